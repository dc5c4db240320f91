//! Counts of open connections, per user, per anonymous address and in all.

use std::sync::Arc;

/// Counts of open WebSockets, so one user, one address's anonymous clients, or
/// everyone together cannot hold unbounded connections.
#[derive(Default)]
pub struct Sockets {
    inner: std::sync::Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_holder: std::collections::HashMap<Holder, usize>,
}

/// Whom a connection is counted against besides the total.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    /// A signed-in user.
    User(String),
    /// Anonymous connections from one client address.
    Address(std::net::IpAddr),
}

/// Which bound an upgrade hit.
#[derive(Debug)]
pub enum Full {
    /// The user's.
    User,
    /// The anonymous connections' of one address.
    Address,
    /// The server's.
    Server,
}

/// An open connection's place in the counts; dropping it frees the place.
pub struct Slot {
    sockets: Arc<crate::app::App>,
    holder: Option<Holder>,
}

impl Sockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// How many connections are open in all.
    pub fn open_count(&self) -> usize {
        self.lock().total
    }
}

/// Takes a place for a new connection of `user` (or, anonymous, from `ip`),
/// within the bounds.
pub fn open_slot(
    app: &Arc<crate::app::App>,
    user: Option<&str>,
    ip: Option<std::net::IpAddr>,
) -> Result<Slot, Full> {
    let config = &app.config;
    let (holder, most, full) = match (user, ip) {
        (Some(u), _) => (
            Some(Holder::User(u.to_owned())),
            config.max_ws_per_user,
            Full::User,
        ),
        (None, Some(ip)) => (
            Some(Holder::Address(ip)),
            config.max_ws_per_ip,
            Full::Address,
        ),
        (None, None) => (None, usize::MAX, Full::Server),
    };
    {
        let mut g = app.sockets.lock();
        if g.total >= config.max_ws {
            return Err(Full::Server);
        }
        if let Some(h) = &holder {
            let n = g.per_holder.entry(h.clone()).or_insert(0);
            if *n >= most {
                return Err(full);
            }
            *n += 1;
        }
        g.total += 1;
    }
    Ok(Slot {
        sockets: app.clone(),
        holder,
    })
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.sockets.sockets.lock();
        g.total = g.total.saturating_sub(1);
        if let Some(h) = &self.holder
            && let Some(n) = g.per_holder.get_mut(h)
        {
            *n -= 1;
            if *n == 0 {
                g.per_holder.remove(h);
            }
        }
    }
}
