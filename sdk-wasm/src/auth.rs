//! `sdk.auth`: sign-up, sign-in and sign-out.

use super::*;

/// `sdk.auth`.
#[wasm_bindgen]
pub struct Auth {
    pub(crate) core: Shared,
}

#[wasm_bindgen]
impl Auth {
    /// Registers a user and signs them in: `{ id }`.
    pub fn register(&self, email: String, password: String) -> Promise {
        call(
            &self.core,
            Ok(Call::Register(Credentials { email, password })),
        )
    }

    /// Signs a user in: `{ id }`.
    pub fn login(&self, email: String, password: String) -> Promise {
        call(&self.core, Ok(Call::Login(Credentials { email, password })))
    }

    /// The signed-in user: `{ id, email, createdAt }`.
    pub fn me(&self) -> Promise {
        call(&self.core, Ok(Call::Me))
    }

    /// Changes the password; every other session ends: `{ message }`.
    #[wasm_bindgen(js_name = changePassword)]
    pub fn change_password(&self, current_password: String, new_password: String) -> Promise {
        let c = Call::ChangePassword {
            current: current_password,
            new: new_password,
        };
        call(&self.core, Ok(c))
    }

    /// Deletes the account (the password confirms it) and signs out: `{ message }`.
    #[wasm_bindgen(js_name = deleteAccount)]
    pub fn delete_account(&self, password: String) -> Promise {
        call(&self.core, Ok(Call::DeleteAccount(password)))
    }

    /// Signs the current user out: `{ message: "OK" }`.
    pub fn logout(&self) -> Promise {
        call(&self.core, Ok(Call::Logout))
    }

    /// The current session, `{ token, userId }` (`userId` `null` until known),
    /// or `null` when signed out: for keeping it across page loads.
    #[wasm_bindgen(getter)]
    pub fn session(&self) -> JsValue {
        let core = self.core.borrow();
        let s = core.session();
        let Some(token) = s.token() else {
            return JsValue::NULL;
        };
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"token".into(), &token.into());
        let user: JsValue = s.user_id().map_or(JsValue::NULL, Into::into);
        let _ = js_sys::Reflect::set(&o, &"userId".into(), &user);
        o.into()
    }

    /// Takes up a session kept from an earlier page load (see `session`).
    #[wasm_bindgen(js_name = restoreSession)]
    pub fn restore_session(&self, token: String, user_id: Option<String>) {
        self.core.borrow_mut().restore_session(token, user_id);
    }
}
