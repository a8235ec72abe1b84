//! connection.update-secret (OAuth token refresh in RabbitMQ): a secret the user store
//! accepts is answered with update-secret-ok and the connection goes on; one it refuses
//! closes the connection with 530 NOT_ALLOWED, as RabbitMQ does.

use crate::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_secret_is_accepted_and_the_connection_goes_on() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    conn.update_secret("guest", "token refresh").await.unwrap();
    conn.update_secret("guest", "and again").await.unwrap();
    queue(&ch, "after-refresh").await;
    publish(&ch, "", "after-refresh", b"x").await;
    assert_eq!(drain(&ch, "after-refresh").await, vec![b"x".to_vec()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_secret_closes_the_connection_with_530() {
    let server = Server::start().await;
    let conn = server.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let err = conn
        .update_secret("not the password", "token refresh")
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(530), "{err:?}");
    assert!(
        ch.queue_declare("x", QueueDeclareOptions::default(), FieldTable::default())
            .await
            .is_err(),
        "the connection is closed"
    );
    // Others are unaffected.
    let other = server.connect().await;
    let ch = other.create_channel().await.unwrap();
    queue(&ch, "unaffected").await;
}
