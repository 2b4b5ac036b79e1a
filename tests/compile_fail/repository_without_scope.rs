// Tenant-owned repositories have no public constructor and no accessor on
// the database handle: only `db.tenant(id)` hands them out.
use pierre_db::{
    AdminConfig, AuditEvents, Chat, Database, FitnessConfigs, Recipes, OAuth2AuthCodes, OAuth2RefreshTokens, OAuthTokens, TenantMembers,
};

fn tokens(db: &Database) {
    let _direct = db.oauth_tokens();
    let _members = db.members();
    let _credentials = db.oauth_credentials();
    let _codes = db.oauth2_auth_codes();
    let _refresh = db.oauth2_refresh_tokens();
    let _states = db.oauth2_states();
    let _fitness = db.fitness_configs();
    let _chat = db.chat();
    let _recipes = db.recipes();
    let _built = OAuthTokens::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_members = TenantMembers::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_codes = OAuth2AuthCodes::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_refresh =
        OAuth2RefreshTokens::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_fitness = FitnessConfigs::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_chat = Chat::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_recipes = Recipes::new(db.unscoped_connection(), pierre_db::TenantId::new());
    // Tenant rows of nullable-tenant tables: only `db.tenant(t)` builds
    // their handles (the global ones have accessors named for them).
    let _config = db.admin_config();
    let _audit = db.audit_events();
    let _built_config = AdminConfig::new(db.unscoped_connection(), pierre_db::TenantId::new());
    let _built_audit = AuditEvents::new(db.unscoped_connection(), pierre_db::TenantId::new());
}

fn main() {}
