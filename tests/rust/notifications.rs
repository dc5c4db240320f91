//! SmartNgRX notifications: `{action: "update" | "delete", table, ids}`; a create
//! is an update of its parent row; one write touching several rows is one message.

use e2e::{Server, connect, next_msg, quiet};
use rucksack::query::Filter;
use rucksack::{CollectionConfig, Notification, NotifyAction, Parent, Record, ServerMessage};
use serde_json::{Value, json};

async fn notification(live: &mut rucksack::Realtime) -> Notification {
    match next_msg(live).await {
        ServerMessage::Notification(n) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

fn n(action: NotifyAction, table: &str, ids: &[&str]) -> Notification {
    Notification {
        action,
        table: table.into(),
        ids: ids.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn writes_become_notifications_in_the_documents_shape() {
    let server = Server::start();
    let admin = server.admin_sdk();
    let cfg = CollectionConfig {
        parent: Some(Parent {
            collection: "departments".into(),
            field: "departmentId".into(),
        }),
        ..CollectionConfig::default()
    };
    admin
        .db()
        .set_collection_config("docs", &cfg)
        .await
        .expect("configure");
    let (w, _) = server.signed_in("notifier").await;
    let mut live = connect(&server.sdk()).await;
    live.subscribe_notifications(None).expect("send");
    let ServerMessage::Other(ack) = next_msg(&mut live).await else {
        panic!("acknowledged")
    };
    assert_eq!(ack["action"], "subscribeNotifications");

    let one: Record<Value> = w
        .db()
        .create_resource("docs", &json!({"departmentId": "d1", "name": "one"}))
        .await
        .expect("create");
    assert_eq!(
        notification(&mut live).await,
        n(NotifyAction::Update, "departments", &["d1"])
    );
    let two: Record<Value> = w
        .db()
        .create_resource("docs", &json!({"departmentId": "d1", "name": "two"}))
        .await
        .expect("create");
    notification(&mut live).await;
    let _: Record<Value> = w
        .db()
        .update_resource("docs", &one.id, &json!({"name": "uno"}))
        .await
        .expect("patch");
    assert_eq!(
        notification(&mut live).await,
        n(NotifyAction::Update, "docs", &[&one.id])
    );
    let changed = w
        .db()
        .update_many(
            "docs",
            Some(Filter::eq("departmentId", "d1")),
            &json!({"$set": {"seen": true}}),
        )
        .await
        .expect("bulk");
    assert_eq!(changed, 2);
    let bulk = notification(&mut live).await;
    assert_eq!(
        (bulk.action, bulk.table.as_str()),
        (NotifyAction::Update, "docs")
    );
    let mut ids = bulk.ids.clone();
    ids.sort();
    let mut want = vec![one.id.clone(), two.id.clone()];
    want.sort();
    assert_eq!(ids, want, "one message names every row of one write");
    let _: Record<Value> = w
        .db()
        .delete_resource("docs", &two.id)
        .await
        .expect("delete");
    assert_eq!(
        notification(&mut live).await,
        n(NotifyAction::Delete, "docs", &[&two.id])
    );
    // Without a parent, a create is an update of the new row itself.
    let lone: Record<Value> = w
        .db()
        .create_resource("folders", &json!({"name": "f"}))
        .await
        .expect("create");
    assert_eq!(
        notification(&mut live).await,
        n(NotifyAction::Update, "folders", &[&lone.id])
    );

    // A subscription to some collections hears nothing of the others.
    let mut only = connect(&server.sdk()).await;
    only.subscribe_notifications(Some(vec!["docs".into()]))
        .expect("send");
    next_msg(&mut only).await;
    let _: Record<Value> = w
        .db()
        .create_resource("folders", &json!({"name": "g"}))
        .await
        .expect("create");
    notification(&mut live).await;
    quiet(&mut only).await;
}
