//! A world of due reminders for the dispatcher's benchmark (`bench-dispatch`) and its tests under
//! faults: `users` users, each with `per_user` active daily habits and one reminder on each, at
//! 07:30 UTC every day, armed after 07:00 on 24 November 2026, so all are due at 07:30 that day.
//! Not used by the function itself.

use chrono::{DateTime, Utc};
use shared::{
    domain::Role,
    models::{HabitFields, HabitItem, ReminderItem, ReminderSpec, UserItem},
    schedule::{Day, Frequency},
    storage::{to_item, Item},
};

/// When the reminders were armed.
pub fn armed_at() -> DateTime<Utc> {
    "2026-11-24T07:00:00Z".parse().expect("a time")
}

/// When they are all due.
pub fn due_at() -> DateTime<Utc> {
    "2026-11-24T07:30:00Z".parse().expect("a time")
}

/// The items to write (users, habits, reminders) and the reminders among them.
pub fn due_reminders(users: usize, per_user: usize) -> (Vec<Item>, Vec<ReminderItem>) {
    let after = armed_at();
    let (mut items, mut reminders) = (Vec::new(), Vec::new());
    for u in 0..users {
        let user_id = ulid::Ulid::new().to_string();
        let (name, email) = (format!("due{u}"), format!("due{u}@example.com"));
        let user = UserItem::new(user_id.clone(), name, email, None, "x".into(), Role::User, after);
        items.push(to_item(&user).expect("an item"));
        for _ in 0..per_user {
            let fields = HabitFields {
                title: "Stretch".into(),
                description: None,
                frequency: Frequency::Daily,
                target: None,
                start_date: "2026-01-01".parse().expect("a date"),
                end_date: None,
                is_active: true,
            };
            let habit = HabitItem::new(&user_id, fields, after);
            let spec = ReminderSpec {
                habit_id: habit.habit_id.clone(),
                reminder_time: "07:30".into(),
                repeat_days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun],
                time_zone: "UTC".into(),
                message: "stretch".into(),
                is_active: true,
            };
            let mut r = ReminderItem::new(&user_id, spec, after);
            r.arm(after);
            items.push(to_item(&habit).expect("an item"));
            items.push(to_item(&r).expect("an item"));
            reminders.push(r);
        }
    }
    (items, reminders)
}
