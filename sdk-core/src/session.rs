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
