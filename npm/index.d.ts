/** Fields every stored record carries. */
export interface SystemFields {
  /** The record's id: 24 hex digits, ordered by creation time. */
  _id: string;
  /** The owner's user id, set by the server from the session. */
  userId?: string;
  /** Creation time, ISO-8601 UTC with milliseconds. */
  createdAt: string;
  /** Time of the last write, ISO-8601 UTC with milliseconds. */
  updatedAt: string;
  /** Version: 0 on create, +1 on every write. */
  __v: number;
}

/** Any application fields. */
export type Fields = { [key: string]: unknown };

/**
 * A stored record: the system fields plus the application's own fields `T`.
 * (Named so that it does not hide TypeScript's own `Record<K, V>`.)
 */
export type StoredRecord<T extends object = Fields> = SystemFields & T;

/**
 * What an update may send for a record of fields `T`: some of its fields
 * (`null` removes one), and the system fields of the record as it was read.
 */
export type Changes<T extends object = Fields> = { [K in keyof T]?: T[K] | null } & Partial<SystemFields>;

/** An update spec: operators to field paths and values. */
export type UpdateSpec = { [op: `$${string}`]: { [field: string]: unknown } };

/** What register and login resolve to. */
export interface UserId {
  id: string;
}

/** `sdk.auth` */
export interface Auth {
  /** Registers a user (email as user name) and signs them in. */
  register(email: string, password: string): Promise<UserId>;
  /** Signs a user in. */
  login(email: string, password: string): Promise<UserId>;
  /** Signs the current user out. */
  logout(): Promise<{ message: string }>;
  /** The signed-in user. */
  me(): Promise<{ id: string; email: string; createdAt: string }>;
  /** Changes the password; every other session of the user ends. */
  changePassword(currentPassword: string, newPassword: string): Promise<{ message: string }>;
  /** Deletes the account (the password confirms it) and signs out; records and files stay. */
  deleteAccount(password: string): Promise<{ message: string }>;
  /** The current session, or null when signed out. */
  readonly session: Session | null;
  /** Takes up a session kept elsewhere (createSdk already restores the one it keeps). */
  restoreSession(token: string, userId?: string): void;
  /**
   * Calls `callback` with the session on each sign-in and with null on each
   * sign-out (logout, a deleted account, a session the server no longer knows).
   * Returns the function that stops the calls.
   */
  onAuthChange(callback: (session: Session | null) => void): () => void;
}

/** A signed-in session: its token and the user's id (null until known). */
export interface Session {
  token: string;
  userId: string | null;
}

/** Where and how the SDK keeps the session between page loads. */
export interface SdkOptions {
  /**
   * Any object with localStorage's getItem, setItem and removeItem. Default: the
   * page's localStorage in browsers, none in Node.js; null keeps the session in
   * memory only.
   */
  storage?: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void } | null;
  /** The key it is kept under (default `rucksack.session:<url>`). */
  storageKey?: string;
}

/** A Mongo-style query: `{ field: value }`, `{ field: { $gt: 1 } }`, `$and`, `$or`, `$nor`, `$not`, `$orderby`, `$skip`, `$limit`, `$fields`. */
export interface MongoQuery {
  [field: string]: unknown;
}

/** Options of `db.find`; lists may be comma-separated strings or arrays. */
export interface FindOptions {
  /** A `where` expression (ANDed with the query). */
  where?: string;
  /** A Mongo-style query (ANDed with the query). */
  q?: MongoQuery | string;
  /** Sort keys: `'age desc,name'` or `['age desc', 'name']`. */
  sortBy?: string | string[];
  /** Records to skip. */
  offset?: number;
  /** Records to return (default 100, at most 1,000). */
  pageSize?: number;
  /** Only these fields. */
  select?: string | string[];
  /** The first record of each combination of these fields. */
  distinct?: string | string[];
  /** Relations `prop=foreignKey:collection`. */
  load?: string | string[];
  /** Resolve to the number of matching records instead. */
  count?: boolean;
  /** More `field: value` equality filters. */
  params?: { [field: string]: string | number | boolean };
  /** Resume after the record this cursor (from `findPage`) names: keyset paging, as cheap deep as at the start. */
  after?: string;
}

/** `sdk.db` */
export interface Db {
  /** Names of the collections that hold records. */
  getCollectionList(): Promise<string[]>;
  /** The same as getCollectionList. */
  getCollectionsList(): Promise<string[]>;
  /** Declares a collection; it is listed once it holds a record. Resolves to the name. */
  createNewCollection(collectionName: string): Promise<string>;
  /** Every record of a collection, oldest first (read page by page). */
  getCollection<T extends object = Fields>(collection: string): Promise<StoredRecord<T>[]>;
  /**
   * Records matching a query. `query` is a `where` string (`'age >= 18 AND city = "Paris"'`)
   * or a Mongo-style object (`{ age: { $gte: 18 } }`). With `{ count: true }` it resolves to a number.
   */
  find<T extends object = Fields>(collection: string, query?: string | MongoQuery | null, options?: FindOptions & { count?: false }): Promise<StoredRecord<T>[]>;
  find(collection: string, query: string | MongoQuery | null | undefined, options: FindOptions & { count: true }): Promise<number>;
  /** One page and the cursor of the next (`null` after the last): pass it back as `options.after`. */
  findPage<T extends object = Fields>(collection: string, query?: string | MongoQuery | null, options?: FindOptions): Promise<{ records: StoredRecord<T>[]; after: string | null }>;
  /** Creates records from up to 1,000 objects, all or nothing. */
  insertMany<T extends object = Fields>(collection: string, objects: T[]): Promise<StoredRecord<T>[]>;
  /** Applies an update spec (`{ $set, $unset, $inc, $push, $pull, $min, $max }`) to every matching record you own, all or nothing; `val` holds the record an upsert made where the collection sets `returnsUpsertedObjects`. */
  updateMany(collection: string, query: string | MongoQuery | null, spec: UpdateSpec): Promise<{ n: number; val: number | StoredRecord<Fields>[]; created?: true }>;
  /** Deletes every matching record you own (every one of yours with a null query), all or nothing; `val` holds the removed records where the collection sets `returnsRemovedObjects`. */
  deleteMany(collection: string, query: string | MongoQuery | null): Promise<{ n: number; val: number | StoredRecord<Fields>[] }>;
  /** One record. */
  getResource<T extends object = Fields>(collection: string, id: string): Promise<StoredRecord<T>>;
  /** Creates a record owned by the signed-in user. */
  createResource<T extends object = Fields>(collection: string, data: T): Promise<StoredRecord<T>>;
  /**
   * Merges data into a record; a null value removes that field. An update spec
   * (`{ $set, $inc, … }`) is applied instead.
   */
  updateResource<T extends object = Fields>(collection: string, id: string, data: Changes<T> | UpdateSpec): Promise<StoredRecord<T>>;
  /** Replaces a record's fields with data (a record as read may be sent back whole). */
  overwriteResource<T extends object = Fields>(collection: string, id: string, data: T & Partial<SystemFields>): Promise<StoredRecord<T>>;
  /** Deletes a record; resolves to it as it was. */
  deleteResource<T extends object = Fields>(collection: string, id: string): Promise<StoredRecord<T>>;
}

/** The metadata record of a stored file. */
export interface FileRecord {
  _id: string;
  /** The owner, who uploaded it. */
  userId: string;
  filename: string;
  bucket: string;
  /** Size in bytes. */
  size: number;
  /** The media type given at upload. */
  contentType: string;
  /** SHA-256 of the bytes, lowercase hex (also the download's ETag). */
  sha256: string;
  createdAt: string;
  updatedAt: string;
  __v: number;
}

/**
 * What uploads accept: a File, a Blob, a FormData (its `file` entry, else its first file),
 * a Uint8Array, an ArrayBuffer or a string.
 */
export type FileInput = Blob | FormData | Uint8Array | ArrayBuffer | string;

/** How far an upload is: bytes sent, of `total` when it is known. */
export interface UploadProgress {
  loaded: number;
  total?: number;
}

/** Options of an upload. */
export interface UploadOptions {
  /** Called as the upload goes. */
  onProgress?: (progress: UploadProgress) => void;
}

/** `sdk.storage`: the signed-in user's files. */
export interface Storage {
  /**
   * Uploads a file as `filename` in `bucket`. `options.onProgress` hears how far
   * the upload is: in browsers as the bytes go, in Node.js once they are sent.
   */
  uploadFile(file: FileInput, filename: string, bucket: string, options?: UploadOptions): Promise<FileRecord>;
  /** The response carrying the file: `await (await sdk.storage.getFile(id, name)).blob()`. */
  getFile(userId: string, filename: string): Promise<Response>;
  /** All of a user's files for the user, the public ones for others. */
  getListOfUserFiles(userId: string): Promise<{ records: FileRecord[] }>;
  /** Renames a file and files it under `bucket`. */
  updateFile(currentFilename: string, newFilename: string, bucket: string): Promise<{ record: FileRecord }>;
  /** The same as updateFile (the Backpack document's example spells it so). */
  updateFil(currentFilename: string, newFilename: string, bucket: string): Promise<{ record: FileRecord }>;
  /** Replaces a file's bytes. */
  overwriteFile(file: FileInput, filename: string): Promise<{ message: string }>;
  /** Deletes a file. */
  deleteFile(filename: string): Promise<{ deletedRecord: FileRecord }>;
}

/** A database write as broadcast to WebSocket clients. */
export interface WriteMessage<T extends object = Fields> {
  action: 'create' | 'update' | 'patch' | 'delete';
  collection: string;
  /** Present and true when the write came over HTTP. */
  httpRequest?: boolean;
  response: StoredRecord<T>;
}

/** The object createSdk returns. */
export interface Sdk {
  readonly auth: Auth;
  readonly db: Db;
  readonly storage: Storage;
  /**
   * The realtime connection. Messages are JSON text in `e.data`:
   * `{action: "connection", response}` first, then answers and broadcasts such as
   * {@link WriteMessage}. It reconnects with backoff after a drop, rejoins its
   * channels and replays what it missed, each message once and in order.
   * Node.js 20 needs `--experimental-websocket` (or `globalThis.WebSocket` from the `ws` package).
   */
  ws(): RealtimeSocket;
}

/** A channel: the channel collection and a channel document's id. */
export interface ChannelRef {
  channelType: string | null;
  channelId: string | null;
}

/** `websocket.actions`: each sends one message; answers arrive as messages. */
export interface Actions {
  /** Broadcast with your `userId`; to a channel's subscribers when it names `channelType` and `channelId`. */
  sendMessage(message: { action: string; [key: string]: unknown }): void;
  /** Answer: `{action: "find", collection, response: Record[]}`. */
  findResource(collection: string, query?: MongoQuery | { [field: string]: unknown }): void;
  /** Answer: `{action: "getAll", collection, response: Record[]}`. */
  getCollection(collection: string): void;
  /** Answer: `{action: "getOne", collection, response: Record}`. */
  getResource(collection: string, id: string): void;
  /** Answer `{action: "create", collection, response}`; broadcast to the others. */
  createResource(collection: string, data: object): void;
  /** `{action: "update", ...}`: replaces the record. */
  overwriteResource(collection: string, id: string, data: object): void;
  /** `{action: "patch", ...}`: merges into the record (`null` removes a field). */
  updateResource(collection: string, id: string, data: object): void;
  /** `{action: "delete", ...}`. */
  deleteResource(collection: string, id: string): void;
  /** Answer: `{action, usersChannels: ChannelRef[]}`; subscribes to them. */
  joinUsersChannels(usersInformationCollection: string): void;
  /** Answer: `{action, response: channel, usersChannels, usersCurrentChannel}`. */
  createChannel(usersInformationCollection: string, channelType: string, name: string): void;
  /** Answer: `{action, userId, channelType, channelId, response: usersInformationRecord}`. */
  joinChannel(usersInformationCollection: string, channelType: string, channelId: string): void;
  leaveChannel(usersInformationCollection: string, channelType: string, channelId: string): void;
  changeChannel(usersInformationCollection: string, channelType: string, channelId: string): void;
  deleteChannel(usersInformationCollection: string, channelMessagesCollection: string, channelType: string, channelId: string): void;
  /** Broadcast to everyone with your `userId`. */
  open(message: object): void;
  /** Broadcast to everyone with your `userId`. */
  close(message: object): void;
  /** From now on record writes arrive as {@link SmartNgRXNotification}s. */
  subscribeNotifications(collections?: string[]): void;
}

/** What `subscribe` returns: call it to unsubscribe. */
export interface Unsubscribe {
  (): void;
  /** Resolves once the server has the subscription in place; rejects with its refusal. */
  readonly ready: Promise<void>;
}

/** The realtime connection `sdk.ws()` returns: WebSocket-like, and it stays connected. */
export interface RealtimeSocket {
  readonly actions: Actions;
  onmessage: ((e: { type: 'message'; data: string }) => void) | null;
  /** Called once, when the first connection opens. */
  onopen: ((e: { type: 'open' }) => void) | null;
  /** Called once, when the connection ends for good. */
  onclose: ((e: { type: 'close' }) => void) | null;
  /** Called when the first connection cannot be opened (a wrong key, say). */
  onerror: ((e: { type: 'error' }) => void) | null;
  addEventListener(type: 'message' | 'open' | 'close' | 'error', listener: (e: { type: string; data?: string }) => void): void;
  removeEventListener(type: 'message' | 'open' | 'close' | 'error', listener: (e: { type: string; data?: string }) => void): void;
  /** 0 connecting or reconnecting, 1 open, 3 closed. */
  readonly readyState: 0 | 1 | 3;
  /**
   * Calls `callback` with each write message to `collection` whose record matches
   * `query` (a `where` string or a Mongo-style object), and with the write after
   * which a matching record stops matching. The server evaluates the query, after
   * the collection's read rule, and keeps the subscription across reconnects.
   * Every matching write from the call on is delivered. Returns the function that
   * unsubscribes; its `ready` promise resolves once the server has the
   * subscription in place, or rejects with an `SdkError` (`invalid_query`,
   * `forbidden`, `rate_limited`).
   */
  subscribe(collection: string, query: string | MongoQuery | { [field: string]: unknown } | null | undefined,
    callback: (message: WriteMessage) => void): Unsubscribe;
  /**
   * Sends one text frame as a WebSocket's `send` does: the string as given, an
   * object as its JSON. Not kept for a reconnect (the `actions` are); throws an
   * `SdkError` with code `unavailable` while the connection is not open.
   */
  send(data: string | object): void;
  /** Closes for good: no reconnect. */
  close(): void;
}

/** A SmartNgRX notification, in the SmartNgRX document's shape. */
export interface SmartNgRXNotification {
  action: 'update' | 'delete';
  table: string;
  ids: string[];
}

/** How a server table reaches SmartNgRX: a new name, a name and an id prefix, or a function. */
export type SmartNgRXTableRule =
  | string
  | { table?: string; prefix?: string }
  | ((n: SmartNgRXNotification) => SmartNgRXNotification | null);

/**
 * Opens `sdk.ws()`, subscribes to notifications and calls
 * `handleSocketNotification(table, action, ids)` with each, mapped through `tables`.
 */
export declare function connectSmartNgRX(sdk: Sdk, options: {
  handleSocketNotification: (table: string, action: 'update' | 'delete', ids: string[]) => void;
  tables?: { [serverTable: string]: SmartNgRXTableRule };
  collections?: string[];
}): { socket: RealtimeSocket; close(): void };

/** The error every rejected promise carries. */
export declare class SdkError extends Error {
  /** HTTP status of the server's answer; 0 when none was received. */
  readonly status: number;
  /** Stable machine-readable code, e.g. "not_found", "email_taken", "network_error". */
  readonly code: string;
  /** Per-field problems for validation errors. */
  readonly errors?: { [field: string]: string };
}

/**
 * Creates an SDK for the server at `url` with the app's API key. The session is
 * kept across page loads (see {@link SdkOptions}).
 */
export declare function createSdk(url: string, apiKey: string, options?: SdkOptions): Sdk;
export default createSdk;
