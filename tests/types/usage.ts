// Type-checked (tsc --noEmit) by the test command, never run: the package's
// declarations accept what apps write and refuse what is wrong.
import { createSdk, connectSmartNgRX, SdkError, type StoredRecord, type WriteMessage } from '../../npm/index.js';

interface Note {
  text: string;
  likes?: number;
}

const sdk = createSdk('http://127.0.0.1:8080/', 'YOUR_API_KEY');
const kept = new Map<string, string>();
const inMemory = createSdk('http://127.0.0.1:8080/', 'YOUR_API_KEY', {
  storage: { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => void kept.set(k, v), removeItem: (k) => void kept.delete(k) },
});
const stopWatching = inMemory.auth.onAuthChange((s) => s?.token);
stopWatching();
const token: string | undefined = inMemory.auth.session?.token;
// @ts-expect-error: storage must have getItem, setItem and removeItem
createSdk('http://127.0.0.1:8080/', 'YOUR_API_KEY', { storage: { getItem: () => null } });
const { id } = await sdk.auth.register('user@users.com', 'my_password123');

const made = await sdk.db.createResource<Note>('notes', { text: 'hi' });
const text: string = made.text;
const stamp: string = made.createdAt;
// @ts-expect-error: text is a string
await sdk.db.createResource<Note>('notes', { text: 1 });

const read: StoredRecord<Note> = await sdk.db.getResource<Note>('notes', made._id);
await sdk.db.updateResource<Note>('notes', read._id, { likes: null });
await sdk.db.updateResource<Note>('notes', read._id, { ...read, likes: 2 }); // written back whole
await sdk.db.updateResource('notes', read._id, { $inc: { likes: 1 } });
// @ts-expect-error: likes is a number
await sdk.db.updateResource<Note>('notes', read._id, { likes: 'many' });
await sdk.db.overwriteResource<Note>('notes', read._id, { text: 'new' });

const notes: StoredRecord<Note>[] = await sdk.db.find<Note>('notes', 'likes >= 1', { sortBy: 'likes desc' });
const count: number = await sdk.db.find('notes', { likes: { $gte: 1 } }, { count: true });
const { records, after } = await sdk.db.findPage<Note>('notes', null, { pageSize: 30 });
await sdk.db.insertMany<Note>('notes', [{ text: 'a' }, { text: 'b' }]);
const { n, val } = await sdk.db.updateMany('notes', 'likes < 1', { $set: { archived: true } });
// @ts-expect-error: a query is a string or an object
await sdk.db.find('notes', 42);

// TypeScript's own Record is not hidden by the package.
// `val` is a count, or the records where a collection asks Carbond's return options.
const tally: Record<string, number> = { [id]: notes.length + count + records.length + n + (typeof val === 'number' ? val : val.length) };

const file = await sdk.storage.uploadFile(new Blob(['x']), 'a.txt', 'docs');
await sdk.storage.uploadFile(new Blob(['y']), 'b.txt', 'docs', {
  onProgress: ({ loaded, total }) => console.log(loaded, total ?? '?'),
});
const resp: Response = await sdk.storage.getFile(file.userId, 'a.txt');

const ws = sdk.ws();
ws.onmessage = (e) => JSON.parse(e.data);
ws.actions.createResource('notes', { text: 'live' });
ws.send(JSON.stringify({ action: 'getAll', collection: 'notes' }));
const stop = ws.subscribe('notes', { likes: { $gte: 10 } }, (m: WriteMessage) => m.response._id);
const ready: Promise<void> = stop.ready;
void ready;
stop();
ws.close();

const smart = connectSmartNgRX(sdk, {
  handleSocketNotification: (table, action, ids) => [table, action, ids.length],
  tables: { docs: { table: 'departmentChildren', prefix: 'docs:' } },
});
smart.close();

try {
  await sdk.db.getResource('notes', '000000000000000000000000');
} catch (e) {
  if (e instanceof SdkError) {
    const code: string = e.code;
    const status: number = e.status;
    void [code, status];
  }
}
void [text, stamp, after, tally, resp, token];
