//! The client's session: who is signed in and the token that proves it.

/// Who is signed in. Login and register fill it; logout empties it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    token: Option<String>,
    user_id: Option<String>,
}

impl Session {
    /// Records a successful sign-in.
    pub fn sign_in(&mut self, user_id: String, token: String) {
        self.user_id = Some(user_id);
        self.token = Some(token);
    }

    /// Takes up a session kept from an earlier run: its token, and the user's id
    /// when it was kept too (the answer to `me` fills it in otherwise).
    pub fn restore(&mut self, token: String, user_id: Option<String>) {
        self.token = Some(token);
        self.user_id = user_id;
    }

    /// Learns the signed-in user's id (from `me`) for a restored session.
    pub fn learn_user_id(&mut self, user_id: &str) {
        if self.token.is_some() {
            self.user_id = Some(user_id.to_owned());
        }
    }

    /// Forgets the signed-in user.
    pub fn clear(&mut self) {
        self.user_id = None;
        self.token = None;
    }

    /// The session token, when signed in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The signed-in user's id.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
}
