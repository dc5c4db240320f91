//! The realtime connection over tokio-tungstenite.

use futures_util::{SinkExt, StreamExt};
use sdk_core::Error;
use sdk_core::ws::ServerMessage;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// A live realtime connection. [`Realtime::next`] yields each message the server
/// sends: the greeting, then the broadcasts this client may see.
pub struct Realtime {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Realtime {
    pub(crate) async fn connect(url: &str) -> Result<Self, Error> {
        let (socket, _) = connect_async(url).await.map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(resp) => {
                let body = resp.body().clone().unwrap_or_default();
                Error::from_response(resp.status().as_u16(), &body)
            }
            other => Error::Transport(other.to_string()),
        })?;
        Ok(Self { socket })
    }

    /// The next message, or `None` once the connection has closed.
    pub async fn next(&mut self) -> Option<Result<ServerMessage, Error>> {
        loop {
            match self.socket.next().await? {
                Ok(Message::Text(t)) => return Some(ServerMessage::parse(t.as_str())),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(e) => return Some(Err(Error::Transport(e.to_string()))),
            }
        }
    }

    /// Sends a JSON message (an object with an `action`).
    pub async fn send(&mut self, message: &serde_json::Value) -> Result<(), Error> {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    /// Closes the connection.
    pub async fn close(mut self) -> Result<(), Error> {
        self.socket
            .close(None)
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }
}
