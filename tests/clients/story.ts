// The user story through the generated TypeScript client (@hey-api/openapi-ts, fetch), typed end
// to end: `scripts/clients.py story` installs the client's npm package, compiles this with
// `tsc --strict` and runs it with Node against the local API.
//
// Usage: node story.js BASE_URL ADMIN_USERNAME ADMIN_PASSWORD
import {
  createChallenge, createHabit, createReminder, deleteHabit, deleteMe, getHabit, getStats, health, join,
  leaderboard, login, putEntry, refresh, register, timeZones,
  type CreateHabit, type Problem,
} from 'habit-tracker-api-client';
import { createClient, createConfig, type Client } from 'habit-tracker-api-client/client';

let passed = 0;

/** The answer of a call: its status must be `status`, and what it parsed is returned typed. */
async function expect<T, E>(
  call: Promise<{ data?: T; error?: E; response: Response }>,
  status: number,
): Promise<{ data: T | undefined; error: E | undefined }> {
  const { data, error, response } = await call;
  if (response.status !== status) {
    throw new Error(`${response.url}: ${response.status}, expected ${status}: ${JSON.stringify(error ?? data)}`);
  }
  passed += 1;
  return { data, error };
}

function ok<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('no body');
  return value;
}

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

async function main(baseUrl: string, admin: string, adminPassword: string): Promise<void> {
  const anyone: Client = createClient(createConfig({ baseUrl }));
  const as = (token: string): Client => createClient(createConfig({ baseUrl, auth: token }));

  assert(ok((await expect(health({ client: anyone }), 200)).data).status === 'ok', 'health');
  const zones = ok((await expect(timeZones({ client: anyone }), 200)).data);
  assert(zones.time_zones.includes('Europe/Berlin'), 'Europe/Berlin is listed');

  const name = `ts_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const password = "a client's own passphrase";
  const registered = ok((await expect(register({ client: anyone,
    body: { username: name, email: `${name}@example.com`, password } }), 201)).data);
  assert(registered.user.username === name, 'registered as asked');
  const session = ok((await expect(login({ client: anyone, body: { username: name, password } }), 200)).data);
  let me = as(session.access_token);

  const newHabit: CreateHabit = { title: 'Read 20 pages', frequency: { type: 'weekdays', days: ['mon', 'wed', 'fri'] } };
  const key = crypto.randomUUID();
  const habit = ok((await expect(createHabit({ client: me, body: newHabit, headers: { 'Idempotency-Key': key } }), 201)).data);
  const again = ok((await expect(createHabit({ client: me, body: newHabit, headers: { 'Idempotency-Key': key } }), 201)).data);
  assert(again.habit_id === habit.habit_id, 'a repeated create answers the first habit');

  const today = new Date().toISOString().slice(0, 10); // the profile names no time zone: UTC
  const entry = ok((await expect(putEntry({ client: me, path: { id: habit.habit_id, date: today },
    body: { status: 'done' } }), 200)).data);
  assert(entry.date === today && entry.status === 'done', 'the entry as recorded');
  const stats = ok((await expect(getStats({ client: me, path: { id: habit.habit_id } }), 200)).data);
  assert(stats.total_done === 1 && stats.as_of === today, 'stats count the entry');

  const reminder = ok((await expect(createReminder({ client: me, body: { habit_id: habit.habit_id,
    reminder_time: '07:30', repeat_days: ['mon', 'wed'], message: 'Time to read', time_zone: 'Europe/Berlin' } }), 201)).data);
  assert(reminder.time_zone === 'Europe/Berlin', 'the reminder keeps its zone');

  const operator = as(ok((await expect(login({ client: anyone, body: { username: admin, password: adminPassword } }), 200)).data).access_token);
  const end = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const challenge = ok((await expect(createChallenge({ client: operator,
    body: { challenge_name: `Read with ${name}`, start_date: today, end_date: end } }), 201)).data);
  // No body: a new daily habit is made from the challenge.
  const membership = ok((await expect(join({ client: me, path: { id: challenge.challenge_id } }), 201)).data);
  assert(membership.challenge_id === challenge.challenge_id, 'joined');
  const board = ok((await expect(leaderboard({ client: me, path: { id: challenge.challenge_id } }), 200)).data);
  assert(board.items.map((row) => row.username).join() === name, 'the leaderboard lists the member');

  const pair = ok((await expect(refresh({ client: anyone, body: { refresh_token: session.refresh_token } }), 200)).data);
  me = as(pair.access_token);

  const bad: Problem = ok((await expect(createHabit({ client: me, body: { ...newHabit, title: '' } }), 400)).error);
  assert(bad.status === 400 && (bad.errors ?? []).map((e) => e.field).join() === 'title', 'the 400 names the title');

  await expect(deleteHabit({ client: me, path: { id: habit.habit_id } }), 204);
  await expect(getHabit({ client: me, path: { id: habit.habit_id } }), 404);
  await expect(deleteMe({ client: me, body: { current_password: password } }), 204);
  await expect(login({ client: anyone, body: { username: name, password } }), 401);
  console.log(`typescript client: ${passed} passed`);
}

const [baseUrl, admin, adminPassword] = process.argv.slice(2);
main(baseUrl, admin, adminPassword).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
