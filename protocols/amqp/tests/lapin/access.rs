//! Logins, virtual hosts and permissions.

use crate::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_vhost_refusals() {
    let server = Server::start().await;
    let bad_password = format!("amqp://guest:wrong@{}/%2f", server.addr);
    let e = Connection::connect(&bad_password, ConnectionProperties::default())
        .await
        .unwrap_err();
    assert!(
        matches!(code(&e), Some(403)) || matches!(e, lapin::Error::IOError(_)),
        "{e:?}"
    );
    let bad_vhost = format!("amqp://guest:guest@{}/nope", server.addr);
    let e = Connection::connect(&bad_vhost, ConnectionProperties::default())
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(530), "{e:?}");
    // AMQPLAIN works as well as PLAIN.
    let amqplain = format!(
        "amqp://guest:guest@{}/%2f?auth_mechanism=amqplain",
        server.addr
    );
    let conn = Connection::connect(&amqplain, ConnectionProperties::default())
        .await
        .unwrap();
    conn.create_channel().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_are_enforced() {
    let server = Server::start().await;
    let mut user = trident_engine::User::new("limited", "pw").unwrap();
    user.permissions.insert(
        "/".into(),
        trident_engine::Permission {
            configure: "^own-.*".into(),
            write: "^(own-.*|amq\\.default|)$".into(),
            read: "^own-.*".into(),
        },
    );
    server.engine.users().put(user).unwrap();
    let admin = server.connect().await.create_channel().await.unwrap();
    declare(
        &admin,
        "foreign",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();

    let uri = format!("amqp://limited:pw@{}/%2f", server.addr);
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    declare(
        &ch,
        "own-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "",
        "own-q",
        BasicPublishOptions::default(),
        b"ok",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        declare(
            &ch,
            "other-q",
            QueueDeclareOptions::default(),
            FieldTable::default()
        )
        .await,
        Err(Some(403))
    );
    let ch = conn.create_channel().await.unwrap();
    let e = ch
        .basic_consume(
            "foreign",
            "c",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), Some(403));
    let ch = conn.create_channel().await.unwrap();
    // The watcher needs a queue this user may configure and read.
    ch.queue_declare(
        "own-w",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut w = ch
        .basic_consume(
            "own-w",
            "w",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.basic_publish(
        "amq.topic",
        "k",
        BasicPublishOptions::default(),
        b"no",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let got = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut w)).await;
    assert!(
        matches!(got, Ok(Some(Err(ref e))) if code(e) == Some(403)),
        "{got:?}"
    );
    // A vhost the user has no permission entry for is refused at open (530).
    server
        .engine
        .add_vhost(trident_core::VhostName::new("other").unwrap())
        .await
        .unwrap();
    let e = Connection::connect(
        &format!("amqp://limited:pw@{}/other", server.addr),
        ConnectionProperties::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), Some(530));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_permissions_restrict_routing_keys_per_exchange() {
    let server = Server::start().await;
    let mut user = trident_engine::User::new("sensor", "pw").unwrap();
    user.permissions
        .insert("/".into(), trident_engine::Permission::all());
    user.topic_permissions
        .push(trident_engine::TopicPermission {
            vhost: "/".into(),
            exchange: "amq.topic".into(),
            write: "^sensors\\.".into(),
            read: ".*".into(),
        });
    server.engine.users().put(user).unwrap();
    let uri = format!("amqp://sensor:pw@{}/%2f", server.addr);
    let conn = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let ok = ch
        .basic_publish(
            "amq.topic",
            "sensors.t1",
            BasicPublishOptions::default(),
            b"21.5",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    // Other exchanges are not restricted by a topic permission for amq.topic.
    ch.basic_publish(
        "amq.direct",
        "admin.reboot",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let refused = match ch
        .basic_publish(
            "amq.topic",
            "admin.reboot",
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
    {
        Err(e) => e,
        Ok(confirm) => tokio::time::timeout(WAIT, confirm)
            .await
            .unwrap()
            .unwrap_err(),
    };
    assert_eq!(code(&refused), Some(403), "{refused:?}");
    server.stop().await;
}
