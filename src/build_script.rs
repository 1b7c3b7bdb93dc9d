// The PostgreSQL migrations are embedded at compile time by `sqlx::migrate!` (src/db): rebuild when a
// migration is added or changed, which cargo cannot see on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
