//! Chat conversations and messages.

use pierre_db::ConversationId;
use pierre_db::{ChatRole, DatabaseError, NewChatMessage, NewConversation, PageRequest};

use crate::common;

fn said(role: ChatRole, text: &str, tokens: u32) -> NewChatMessage {
    let mut m = NewChatMessage::new(role, text);
    m.token_count = Some(tokens);
    m
}

#[tokio::test]
async fn messages_go_only_into_the_users_conversation_in_this_tenant() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let chat = w.t.db.tenant(w.acme).chat();
        let talk = chat
            .create_conversation(NewConversation::new(w.ada, "Plan"))
            .await
            .unwrap();
        chat.add_message(w.ada, talk.id, said(ChatRole::User, "hi", 3))
            .await
            .unwrap();

        // Another user in this tenant, and the same user in another tenant.
        for (scope, user) in [(w.acme, w.bob), (w.globex, w.ada)] {
            let err =
                w.t.db
                    .tenant(scope)
                    .chat()
                    .add_message(user, talk.id, said(ChatRole::User, "intruder", 100))
                    .await
                    .unwrap_err();
            assert!(
                matches!(err, DatabaseError::NotFound { .. }),
                "{b}: {err:?}"
            );
        }
        let talk = chat.get_conversation(w.ada, talk.id).await.unwrap();
        assert_eq!(talk.total_tokens, 3, "{b}: nothing written");
        assert_eq!(chat.count_messages(w.ada, talk.id).await.unwrap(), 1, "{b}");
        assert!(matches!(
            chat.count_messages(w.bob, talk.id).await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(matches!(
            w.t.db
                .tenant(w.globex)
                .chat()
                .get_conversation(w.ada, talk.id)
                .await,
            Err(DatabaseError::NotFound { .. })
        ));
        // Bad input writes nothing either.
        for bad in [said(ChatRole::User, "", 1), said(ChatRole::User, "  ", 1)] {
            assert!(matches!(
                chat.add_message(w.ada, talk.id, bad).await,
                Err(DatabaseError::InvalidInput {
                    field: "content",
                    ..
                })
            ));
        }
        assert_eq!(chat.count_messages(w.ada, talk.id).await.unwrap(), 1, "{b}");
    }
}

#[tokio::test]
async fn concurrent_messages_all_land_and_sum_their_tokens() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let talk =
            w.t.db
                .tenant(w.acme)
                .chat()
                .create_conversation(NewConversation::new(w.ada, "Busy"))
                .await
                .unwrap();
        let (db, acme, ada) = (w.t.db.clone(), w.acme, w.ada);
        let added = common::all_at_once(32, |i| {
            let db = db.clone();
            async move {
                db.tenant(acme)
                    .chat()
                    .add_message(
                        ada,
                        talk.id,
                        said(ChatRole::User, &format!("m{i}"), i as u32),
                    )
                    .await
            }
        })
        .await;
        assert!(added.iter().all(Result::is_ok), "{b}: {added:?}");
        let chat = w.t.db.tenant(w.acme).chat();
        assert_eq!(
            chat.count_messages(w.ada, talk.id).await.unwrap(),
            32,
            "{b}"
        );
        let total = chat
            .get_conversation(w.ada, talk.id)
            .await
            .unwrap()
            .total_tokens;
        assert_eq!(total, (0..32).sum::<u64>(), "{b}");
    }
}

#[tokio::test]
async fn lists_page_in_order_with_counts_and_deletes_take_messages_along() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let chat = w.t.db.tenant(w.acme).chat();
        let mut talks = Vec::new();
        for i in 0..5 {
            talks.push(
                chat.create_conversation(NewConversation::new(w.ada, format!("t{i}")))
                    .await
                    .unwrap(),
            );
        }
        chat.create_conversation(NewConversation::new(w.bob, "bob's"))
            .await
            .unwrap();
        // Activity on t1 makes it the newest; t1 gets 3 messages.
        for i in 0..3 {
            chat.add_message(
                w.ada,
                talks[1].id,
                said(ChatRole::Assistant, &format!("a{i}"), 1),
            )
            .await
            .unwrap();
        }
        let first = chat
            .list_conversations(w.ada, &PageRequest::first(3))
            .await
            .unwrap();
        let second = chat
            .list_conversations(
                w.ada,
                &PageRequest::after(first.next_cursor.clone().unwrap(), 3),
            )
            .await
            .unwrap();
        let order: Vec<(String, u64)> = first
            .items
            .iter()
            .chain(&second.items)
            .map(|s| (s.conversation.title.clone(), s.message_count))
            .collect();
        assert_eq!(
            order,
            [
                ("t1".to_owned(), 3),
                ("t4".to_owned(), 0),
                ("t3".to_owned(), 0),
                ("t2".to_owned(), 0),
                ("t0".to_owned(), 0)
            ],
            "{b}"
        );
        assert!(!second.has_more, "{b}");

        // Messages: oldest first by pages; the most recent two in order.
        let page = chat
            .messages(w.ada, talks[1].id, &PageRequest::first(2))
            .await
            .unwrap();
        let rest = chat
            .messages(
                w.ada,
                talks[1].id,
                &PageRequest::after(page.next_cursor.clone().unwrap(), 2),
            )
            .await
            .unwrap();
        let contents: Vec<&str> = page
            .items
            .iter()
            .chain(&rest.items)
            .map(|m| m.content.as_str())
            .collect();
        assert_eq!(contents, ["a0", "a1", "a2"], "{b}");
        let recent: Vec<String> = chat
            .recent_messages(w.ada, talks[1].id, 2)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(recent, ["a1", "a2"], "{b}");

        chat.rename(w.ada, talks[0].id, "renamed").await.unwrap();
        assert!(matches!(
            chat.rename(w.bob, talks[0].id, "stolen").await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(
            !chat.delete_conversation(w.bob, talks[1].id).await.unwrap(),
            "{b}"
        );
        assert!(
            chat.delete_conversation(w.ada, talks[1].id).await.unwrap(),
            "{b}"
        );
        let left = common::text_column(&w.t.db, "SELECT content FROM chat_messages").await;
        assert!(left.is_empty(), "{b}: the messages went with it");
        assert_eq!(chat.delete_all_for_user(w.ada).await.unwrap(), 4, "{b}");
        let page = chat
            .list_conversations(w.bob, &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{b}: bob's stays");
    }
}

#[tokio::test]
async fn conversation_and_message_pages_use_their_index_without_sorting() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let statements =
            w.t.db
                .tenant(w.acme)
                .chat()
                .page_statements(w.ada, ConversationId::new());
        common::assert_plans_use_indexes(&w.t, statements).await;
    }
}
