//! End-to-end tests: the real server process, driven through the native SDK
//! (and, for input the SDK refuses to send, through raw HTTP).

mod auth;
mod bad_input;
mod body_fuzz;
mod channels;
mod cli;
mod crash_loop;
mod disk_full;
mod durability;
mod files;
mod files_s3;
mod hardening;
mod limits;
mod metrics;
mod notifications;
mod openapi;
mod operations;
mod queries;
mod realtime;
mod records;
mod resume;
mod retries;
mod rules;
mod scale_out;
mod scripts;
mod security;
mod socket_actions;
mod storm;
