//! The raw side of the tenant-content lines: chat messages.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::sqlx::{self, Row};
use uuid::Uuid;

use super::{Pool, Raw, sql};
use pierre_db::{TenantId, UserId};

/// A message's columns, as the page reads them.
#[allow(dead_code, reason = "read only through Debug, when a check fails")]
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
        // SeaORM's text, letter for letter: PostgreSQL picks a generic plan
        // per statement text and connection, and for this UPDATE the pick
        // (primary key, or the (tenant_id, user_id, updated_at, id) index
        // while the table is young) swung the two sides apart by 1.6x.
        // With one text both sides share the plan, and the line measures
        // the library.
        let bump = sql(
            &self.pool,
            r#"UPDATE "chat_conversations" SET "updated_at" = ?, "total_tokens" = "total_tokens" + ? WHERE "chat_conversations"."tenant_id" = ? AND "chat_conversations"."id" = ? AND "chat_conversations"."user_id" = ?"#,
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
            "SELECT id FROM chat_conversations WHERE tenant_id = ? AND id = ? AND user_id = ?",
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

impl Raw {
    /// `Recipes::get`: the recipe (scoped to tenant and user), then its
    /// ingredients in order; every column decoded. Returns the number of
    /// ingredients.
    pub async fn get_recipe(&self, tenant: TenantId, user: UserId, id: Uuid) -> usize {
        let (timing, unit) = match self.pool {
            Pool::Sqlite(_) => ("meal_timing", "unit"),
            Pool::Postgres(_) => ("CAST(meal_timing AS TEXT)", "CAST(unit AS TEXT)"),
        };
        let recipe = sql(
            &self.pool,
            &format!(
                "SELECT id, user_id, tenant_id, name, description, servings, prep_time_mins, \
                 cook_time_mins, instructions, tags, {timing}, cached_calories, \
                 cached_protein_g, cached_carbs_g, cached_fat_g, cached_fiber_g, \
                 cached_sodium_mg, cached_sugar_g, nutrition_validated_at, created_at, \
                 updated_at FROM recipes WHERE tenant_id = ? AND id = ? AND user_id = ? LIMIT ?"
            ),
        );
        let ingredients = sql(
            &self.pool,
            &format!(
                "SELECT id, recipe_id, fdc_id, name, amount, {unit}, grams, preparation, \
                 sort_order FROM recipe_ingredients WHERE recipe_id = ? ORDER BY sort_order ASC"
            ),
        );
        run!(&self.pool, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(recipe))
                .bind(tenant.as_uuid())
                .bind(id)
                .bind(user.as_uuid())
                .bind(1i64)
                .fetch_one(p)
                .await
                .unwrap();
            let _: (Uuid, Uuid, Uuid, String, Option<String>) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            let _: (i32, Option<i32>, Option<i32>) = (row.get(5), row.get(6), row.get(7));
            let steps: serde_json::Value = row.get(8);
            let tags: serde_json::Value = row.get(9);
            let _: Vec<String> = serde_json::from_value(steps).unwrap();
            let _: Vec<String> = serde_json::from_value(tags).unwrap();
            let _: String = row.get(10);
            for i in 11..18 {
                let _: Option<f64> = row.get(i);
            }
            let _: Option<DateTime<FixedOffset>> = row.get(18);
            let _: (DateTime<FixedOffset>, DateTime<FixedOffset>) = (row.get(19), row.get(20));
            let rows = sqlx::query(sqlx::AssertSqlSafe(ingredients))
                .bind(id)
                .fetch_all(p)
                .await
                .unwrap();
            for row in &rows {
                let _: (Uuid, Uuid, Option<i32>, String) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let _: (f64, String, f64, Option<String>, i32) =
                    (row.get(4), row.get(5), row.get(6), row.get(7), row.get(8));
            }
            rows.len()
        })
    }
}
