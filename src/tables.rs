//! The one list of the tables pierre-db manages, in an order that loads
//! them: parents before children.

/// Calls the macro `$then` with every table pierre-db manages (the names
/// of their entity modules), parents before children: `users` before
/// `tenants` although each references the other (a user's home tenant is
/// optional, a tenant's owner is not), then by foreign key. Code that
/// goes over every table (copying, adopting) takes its list from here.
#[doc(hidden)]
#[macro_export]
macro_rules! every_table {
    ($then:ident) => {
        $then!(
            users,
            tenants,
            tenant_users,
            system_secrets,
            key_versions,
            system_settings,
            rsa_keypairs,
            admin_config_categories,
            admin_tokens,
            oauth2_clients,
            user_oauth_tokens,
            tenant_oauth_credentials,
            user_oauth_app_credentials,
            user_profiles,
            user_configurations,
            user_mcp_tokens,
            api_keys,
            api_key_usage,
            request_logs,
            jwt_usage,
            a2a_clients,
            a2a_client_api_keys,
            a2a_sessions,
            a2a_tasks,
            a2a_usage,
            admin_provisioned_keys,
            admin_token_usage,
            admin_config_overrides,
            admin_config_audit,
            audit_events,
            oauth2_auth_codes,
            oauth2_refresh_tokens,
            oauth2_states,
            oauth_apps,
            oauth_notifications,
            permission_delegations,
            impersonation_sessions,
            fitness_configurations,
            goals,
            insights,
            chat_conversations,
            chat_messages,
            recipes,
            recipe_ingredients,
        );
    };
}
