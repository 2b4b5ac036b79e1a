//! The raw side of the tenant-content lines: chat messages.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::sqlx::{self, Row};
use uuid::Uuid;

use super::{Pool, Raw, sql};
use pierre_db::{TenantId, UserId};

/// A message's columns, as the page reads them.
#[allow(dead_code)]
#[derive(Debug)]
pub struct MessageRow {
    id: Uuid,
    conversation_id: Uuid,
    role: String,
    content: String,
    token_count: Option<i32>,
    finish_reason: Option<String>,
    pub created_at: DateTime<FixedOffset>,
}

impl Raw {
    /// `Chat::add_message`: the conversation's bump (scoped to tenant and
    /// user) and the message's insert, in one write transaction.
    pub async fn add_chat_message(&self, tenant: TenantId, user: UserId, talk: Uuid) {
        let bump = sql(
            &self.pool,
            "UPDATE chat_conversations SET updated_at = ?, total_tokens = total_tokens + ? \
             WHERE tenant_id = ? AND id = ? AND user_id = ?",
        );
        let insert = sql(
            &self.pool,
            &format!(
                "INSERT INTO chat_messages (id, conversation_id, role, content, token_count, \
                 finish_reason, created_at) VALUES (?, ?, {}, ?, ?, ?, ?)",
                self.role_param()
            ),
        );
        let begin = match self.pool {
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
            Pool::Postgres(_) => "BEGIN",
        };
        let now = Utc::now().fixed_offset();
        run!(&self.pool, |p| {
            let mut tx = p.begin_with(begin).await.unwrap();
            let changed = sqlx::query(sqlx::AssertSqlSafe(bump))
                .bind(now)
                .bind(7i64)
                .bind(tenant.as_uuid())
                .bind(talk)
                .bind(user.as_uuid())
                .execute(&mut *tx)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(changed, 1);
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .bind(Uuid::now_v7())
                .bind(talk)
                .bind("user")
                .bind("How far should I run on Sunday?")
                .bind(Some(7i32))
                .bind(Option::<String>::None)
                .bind(now)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
    }

    /// `n` messages in `talk`, a second apart (setup only).
    pub async fn insert_chat_messages(&self, talk: Uuid, n: usize) {
        let base = Utc::now() - chrono::Duration::days(30);
        for start in (0..n).step_by(500) {
            let end = (start + 500).min(n);
            let mut text = String::from(
                "INSERT INTO chat_messages (id, conversation_id, role, content, created_at) VALUES ",
            );
            for i in start..end {
                if i > start {
                    text.push(',');
                }
                text.push_str(&format!("(?, ?, {}, ?, ?)", self.role_param()));
            }
            let q = sql(&self.pool, &text);
            run!(&self.pool, |p| {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(q));
                for i in start..end {
                    let at = base + chrono::Duration::seconds(i as i64);
                    query = query
                        .bind(Uuid::now_v7())
                        .bind(talk)
                        .bind(if i % 2 == 0 { "user" } else { "assistant" })
                        .bind(format!("message {i}"))
                        .bind(at.fixed_offset());
                }
                query.execute(p).await.map(|_| ())
            })
            .unwrap();
        }
    }

    /// `Chat::messages`: the ownership check, then one keyset page.
    pub async fn chat_messages_page(
        &self,
        tenant: TenantId,
        user: UserId,
        talk: Uuid,
        after: Option<(DateTime<FixedOffset>, Uuid)>,
        limit: i64,
    ) -> Vec<MessageRow> {
        let owned = sql(
            &self.pool,
            "SELECT id, user_id, title, total_tokens FROM chat_conversations \
             WHERE tenant_id = ? AND id = ? AND user_id = ?",
        );
        let role = match self.pool {
            Pool::Sqlite(_) => "role",
            Pool::Postgres(_) => "CAST(role AS TEXT)",
        };
        let filter = if after.is_some() {
            " AND (created_at, id) > (?, ?)"
        } else {
            ""
        };
        let page = sql(
            &self.pool,
            &format!(
                "SELECT id, conversation_id, {role}, content, token_count, finish_reason, \
                 created_at FROM chat_messages WHERE conversation_id = ?{filter} \
                 ORDER BY created_at ASC, id ASC LIMIT ?"
            ),
        );
        run!(&self.pool, |p| {
            let found = sqlx::query(sqlx::AssertSqlSafe(owned))
                .bind(tenant.as_uuid())
                .bind(talk)
                .bind(user.as_uuid())
                .fetch_optional(p)
                .await
                .unwrap();
            assert!(found.is_some());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(page)).bind(talk);
            if let Some((at, id)) = after {
                query = query.bind(at).bind(id);
            }
            let rows = query.bind(limit + 1).fetch_all(p).await.unwrap();
            rows.iter()
                .take(limit as usize)
                .map(|row| MessageRow {
                    id: row.get(0),
                    conversation_id: row.get(1),
                    role: row.get(2),
                    content: row.get(3),
                    token_count: row.get(4),
                    finish_reason: row.get(5),
                    created_at: row.get(6),
                })
                .collect()
        })
    }

    /// The placeholder for a `chat_role` value.
    fn role_param(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "?",
            Pool::Postgres(_) => "CAST(? AS chat_role)",
        }
    }
}
