#!/usr/bin/python3
"""mongo_server.py - a MongoDB stand-in for Ovidio's tests (DESIGN.md section 6).

Debian has no MongoDB server, so the MongoDB store backend is tested against
this: mockupdb speaks the wire protocol (OP_MSG, and OP_QUERY for the first
handshake), mongomock keeps the data and evaluates filters and update
operators. Run it with Debian's interpreter, which has both packages:

    /usr/bin/python3 tests/standins/mongo_server.py --port 0 --port-file FILE

It listens on 127.0.0.1 (port 0: any free port), writes the port number to
FILE once it accepts connections, and serves until SIGTERM or SIGINT.

What a client sees:
  - a standalone server with maxWireVersion 13 (MongoDB 5.0), no sessions
    (no logicalSessionTimeoutMinutes, so drivers send no lsid), no auth;
  - the commands in COMMANDS below, with the reply shapes a real server
    gives: cursors ({cursor: {id, firstBatch|nextBatch, ns}}), write results
    ({n, nModified, upserted, writeErrors: [{index, code: 11000, errmsg}]}),
    findAndModify ({lastErrorObject, value});
  - anything else: {ok: 0, code: 59 (CommandNotFound)}, logged on stderr.

Every command runs under one lock, so several client processes at once see
each command as atomic, as they would on a real server. Data lives in memory
for the life of the process.

mongomock gaps this file papers over, so the C driver sees real behaviour:
  - findAndModify is done by hand: mongomock's helper does not report
    lastErrorObject (updatedExisting, upserted);
  - renameCollection arrives on the admin database with full namespaces;
  - empty first batches and getMore: cursors are kept here, mongomock only
    returns lists;
  - drop of a missing collection answers ok (as MongoDB 7 does);
  - a unique index with a partialFilterExpression is checked against the
    documents the filter matches only, as MongoDB does;
  - an aggregation's leading $match runs as a find: mongomock's own $match
    stage copies and re-checks every document of the collection, which
    makes an aggregation over 200,000 messages take minutes.
  - mongomock answers every query (and every unique-index check on insert)
    by testing each document of the collection: equality on _id, or on the
    first field of an index, looks the candidates up in a dict here instead
    (see EqualityIndexes), so large collections stay usable. The answers
    are the same: candidates still go through mongomock's filter, in the
    collection's order.
"""

import signal
import threading

# Before the slow imports, so a prompt SIGTERM still ends us cleanly.
STOP = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: STOP.set())
signal.signal(signal.SIGINT, lambda *_: STOP.set())

import argparse   # noqa: E402
import datetime   # noqa: E402
import gc         # noqa: E402
import itertools  # noqa: E402
import os         # noqa: E402
import sys        # noqa: E402
import traceback  # noqa: E402

import bson
import mockupdb
import mongomock
import mongomock.aggregate
import mongomock.collection
import mongomock.filtering
import mongomock.store
from bson.int64 import Int64
from bson.objectid import ObjectId

MAX_WIRE_VERSION = 13
BATCH_BYTES = 8 * 1024 * 1024   # cap of one cursor batch, well under 16 MB

LOCK = threading.Lock()          # one command at a time, across connections
CLIENT = mongomock.MongoClient()
CURSORS = {}                     # cursor id -> (namespace, remaining docs)
CURSOR_IDS = itertools.count(1)
CONNECTION_IDS = itertools.count(1)


# ---- equality lookups ----------------------------------------------------

# Values looked up by hashing: Python's == agrees with MongoDB's equality
# on them (5 == 5.0 == Int64(5); bool is only ever a superset, since True
# == 1, and mongomock's filter then decides).
SCALARS = (str, int, float, ObjectId)
NONE = object()          # bucket of None and of a missing field
# Types compared by == exactly as MongoDB compares them (not bool: True
# == 1 in Python only).
EXACT = frozenset((str, int, float, ObjectId, Int64))


def lookup_key(value):
    """The bucket of a queried value; None when it cannot be looked up."""
    if value is None:
        return NONE
    if isinstance(value, SCALARS) and value == value:   # not NaN
        return value
    return None


def equalities(flt, out):
    """Collect {field: [bucket keys]} from the top level of a filter (and
    of its $and): each is a condition every match meets."""
    if not isinstance(flt, dict):
        return
    for field, cond in flt.items():
        if field == '$and' and isinstance(cond, list):
            for sub in cond:
                equalities(sub, out)
            continue
        if field.startswith('$') or '.' in field:
            continue
        if isinstance(cond, dict):
            if len(cond) != 1:
                continue
            op, arg = next(iter(cond.items()))
            if op == '$eq':
                values = [arg]
            elif op == '$in' and isinstance(arg, (list, tuple)):
                values = list(arg)
            else:
                continue
        else:
            values = [cond]
        keys = [lookup_key(v) for v in values]
        if all(k is not None for k in keys) and field not in out:
            out[field] = keys


class EqualityIndexes:
    """Per collection store: for the first field of each declared index, a
    dict from value to the store keys of documents holding it. Documents
    whose value is not a plain scalar (arrays, subdocuments, dates...) are
    candidates for every lookup. Kept right lazily: every document written
    (store __setitem__/__delitem__) or handed to an update is marked dirty,
    and the next lookup re-files the dirty ones first."""

    def __init__(self, store):
        self.documents = store._documents
        self.pos = {key: i for i, key in enumerate(self.documents)}
        self.next_pos = len(self.pos)
        self.fields = {}     # field -> (buckets, other, filed_under)
        self.dirty = set()

    def written(self, key):
        self.dirty.add(key)
        if key in self.documents:
            if key not in self.pos:
                self.pos[key] = self.next_pos
                self.next_pos += 1
        else:
            self.pos.pop(key, None)

    @staticmethod
    def bucket_of(doc, field):
        if field not in doc:
            return NONE
        value = doc[field]
        if value is None:
            return NONE
        if isinstance(value, SCALARS) and value == value:
            return value
        return None          # compared by the filter, always a candidate

    def file(self, field, key, doc):
        buckets, other, filed = self.fields[field]
        bucket = self.bucket_of(doc, field)
        filed[key] = bucket
        if bucket is None:
            other.add(key)
        else:
            buckets.setdefault(bucket, set()).add(key)

    def unfile(self, field, key):
        buckets, other, filed = self.fields[field]
        if key not in filed:
            return
        bucket = filed.pop(key)
        if bucket is None:
            other.discard(key)
        else:
            ids = buckets[bucket]
            ids.discard(key)
            if not ids:
                del buckets[bucket]

    def flush(self):
        for key in self.dirty:
            doc = self.documents.get(key)
            for field in self.fields:
                self.unfile(field, key)
                if doc is not None:
                    self.file(field, key, doc)
        self.dirty.clear()

    def candidates(self, field, keys):
        if field not in self.fields:
            self.fields[field] = ({}, set(), {})
            for key, doc in self.documents.items():
                self.file(field, key, doc)
        buckets, other, _ = self.fields[field]
        found = set(other)
        for k in keys:
            found.update(buckets.get(k, ()))
        return found


def indexed_fields(store):
    return {index['key'][0][0] for index in store.indexes.values()
            if index.get('key')}


def equality_state(store, create):
    state = getattr(store, '_ovidio_equality', None)
    if state is not None and state.documents is not store._documents:
        state = None          # dropped since: documents are a new dict
    if state is None and create:
        state = store._ovidio_equality = EqualityIndexes(store)
    return state


ORIGINAL_SETITEM = mongomock.store.CollectionStore.__setitem__
ORIGINAL_DELITEM = mongomock.store.CollectionStore.__delitem__
ORIGINAL_ITER = mongomock.collection.Collection._iter_documents
ORIGINAL_UPDATE = mongomock.collection.Collection._update
UPDATING = []            # per nested _update: the store keys it was handed


def store_setitem(store, key, value):
    ORIGINAL_SETITEM(store, key, value)
    state = equality_state(store, False)
    if state is not None:
        state.written(key)


def store_delitem(store, key):
    ORIGINAL_DELITEM(store, key)
    state = equality_state(store, False)
    if state is not None:
        state.written(key)


def store_key(doc):
    key = doc.get('_id')
    return mongomock.helpers.hashdict(key) if isinstance(key, dict) else key


def handed_out(store, docs):
    """docs as mongomock's own generator gives them; those an update
    changes in place are marked dirty."""
    for doc in docs:
        if UPDATING:
            key = store_key(doc)
            UPDATING[-1].append(key)
            state = equality_state(store, False)
            if state is not None:
                state.dirty.add(key)
        yield doc


def iter_documents(coll, flt):
    """Collection._iter_documents, with candidates looked up when the
    filter has an equality on _id or on an indexed field."""
    store = coll._store
    eq = {}
    equalities(flt, eq)
    picked = None
    if '_id' in eq and NONE not in eq['_id']:
        found = {key for key in eq['_id'] if key in store}
        if len(found) > 1:       # in the collection's order
            pos = equality_state(store, True).pos
            found = sorted(found, key=pos.__getitem__)
        picked = [store[key] for key in found]
    else:
        fields = [f for f in eq if f in indexed_fields(store)]
        if fields and not store._ttl_indexes:
            state = equality_state(store, True)
            state.flush()
            found = None
            for field in fields:
                ids = state.candidates(field, eq[field])
                found = ids if found is None else found & ids
            pos = state.pos
            picked = [store._documents[key]
                      for key in sorted(found, key=pos.__getitem__)]
    if picked is None:
        return handed_out(store, ORIGINAL_ITER(coll, flt))
    if not picked:
        # mongomock validates the filter even when nothing can match.
        mongomock.filtering.filter_applies(flt, {})
    # {field: value or $eq or $in} alone, on values whose == is MongoDB's
    # (mongomock's $in walks its whole list for every document).
    field = next(iter(flt)) if len(flt) == 1 else None
    if field in eq and all(type(k) in EXACT for k in eq[field]):
        wanted = set(eq[field])
        return handed_out(store, (
            doc for doc in picked
            if (type(doc.get(field)) in EXACT and doc[field] in wanted) or
            mongomock.filtering.filter_applies(flt, doc)))
    return handed_out(store, (
        doc for doc in picked
        if mongomock.filtering.filter_applies(flt, doc)))


def update(coll, *args, **kwargs):
    """Collection._update: whatever it was handed is dirty afterwards too
    (it changes documents in place, after the lookup)."""
    UPDATING.append([])
    try:
        return ORIGINAL_UPDATE(coll, *args, **kwargs)
    finally:
        keys = UPDATING.pop()
        state = equality_state(coll._store, False)
        if state is not None:
            state.dirty.update(keys)


# ---- key checks ------------------------------------------------------------

# mongomock checks every document it stores by encoding it to BSON
# (check_keys), which pure-Python bson makes the costliest part of an
# insert. Documents here come off the wire, so what can fail is the keys:
# those are checked as bson's encoder checks them, and any value of a kind
# not listed is still encoded to see that it can be.
PLAIN = (str, int, float, bool, type(None), bytes, ObjectId,
         datetime.datetime, Int64)
PLAIN_TYPES = frozenset(PLAIN)   # the exact types: no call for a leaf


def check_names(value, check):
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise bson.errors.InvalidDocument(
                    'documents must have only string keys, key was %r'
                    % (key,))
            if check:
                if key.startswith('$'):
                    raise bson.errors.InvalidDocument(
                        "key %r must not start with '$'" % (key,))
                if '.' in key:
                    raise bson.errors.InvalidDocument(
                        "key %r must not contain '.'" % (key,))
            if '\x00' in key:
                raise bson.errors.InvalidDocument(
                    'BSON keys / regex patterns must not contain a NUL '
                    'character')
            if type(item) not in PLAIN_TYPES:
                check_names(item, check)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if type(item) not in PLAIN_TYPES:
                check_names(item, check)
    elif not isinstance(value, PLAIN):
        bson.BSON.encode({'v': value}, check_keys=check)


class CheckedBSON:
    """What mongomock.collection uses of bson.BSON: encode() as a check."""

    @staticmethod
    def encode(document, check_keys=False, codec_options=None):
        if not isinstance(document, dict):
            return bson.BSON.encode(document, check_keys)
        check_names(document, check_keys)


mongomock.collection.BSON = CheckedBSON
mongomock.store.CollectionStore.__setitem__ = store_setitem
mongomock.store.CollectionStore.__delitem__ = store_delitem
mongomock.collection.Collection._iter_documents = iter_documents
mongomock.collection.Collection._update = update


class CommandError(Exception):
    """A command failure reported to the client as {ok: 0, code, errmsg}."""

    def __init__(self, code, errmsg):
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg


def log(text):
    print('mongo_server: %s' % text, file=sys.stderr, flush=True)


# ---- replies -------------------------------------------------------------

def cursor_reply(ns, docs, batch_size, key, single_batch, cursor_id=0):
    """One batch of docs, the rest kept under a cursor id for getMore."""
    batch, size = [], 0
    limit = batch_size if batch_size and batch_size > 0 else len(docs)
    for doc in docs:
        if len(batch) >= limit:
            break
        size += len(bson.encode(doc))
        if batch and size > BATCH_BYTES:
            break
        batch.append(doc)
    rest = docs[len(batch):]
    if rest and not single_batch:
        cursor_id = cursor_id or next(CURSOR_IDS)
        CURSORS[cursor_id] = (ns, rest)
    else:
        CURSORS.pop(cursor_id, None)
        cursor_id = 0
    return {'cursor': {'id': Int64(cursor_id), key: batch, 'ns': ns}, 'ok': 1}


def write_error(index, err):
    return {'index': index, 'code': getattr(err, 'code', None) or 2,
            'errmsg': str(err)}


def write_reply(n, errors, **extra):
    reply = {'n': n, 'ok': 1}
    reply.update(extra)
    if errors:
        reply['writeErrors'] = errors
    return reply


def is_replacement(update):
    return bool(update) and not any(k.startswith('$') for k in update)


def apply_update(coll, query, update, upsert, multi=False):
    """Update or replace one (or many) documents; mongomock's result."""
    if isinstance(update, list):
        raise CommandError(9, 'pipeline updates are not supported here')
    if is_replacement(update):
        return coll.replace_one(query, update, upsert=upsert)
    if multi:
        return coll.update_many(query, update, upsert=upsert)
    return coll.update_one(query, update, upsert=upsert)


def sort_spec(doc):
    sort = doc.get('sort')
    return list(sort.items()) if sort else None


# ---- commands -------------------------------------------------------------

def cmd_hello(db, doc):
    return {
        'helloOk': True,
        'ismaster': True,
        'isWritablePrimary': True,
        'maxBsonObjectSize': 16 * 1024 * 1024,
        'maxMessageSizeBytes': 48000000,
        'maxWriteBatchSize': 100000,
        'localTime': datetime.datetime.now(datetime.timezone.utc),
        'connectionId': next(CONNECTION_IDS),
        'minWireVersion': 0,
        'maxWireVersion': MAX_WIRE_VERSION,
        'readOnly': False,
        'ok': 1,
    }


def cmd_ok(db, doc):
    return {'ok': 1}


def cmd_build_info(db, doc):
    return {'version': '5.0.0', 'versionArray': [5, 0, 0, 0],
            'maxBsonObjectSize': 16 * 1024 * 1024, 'ok': 1}


def cmd_get_last_error(db, doc):
    return {'err': None, 'n': 0, 'ok': 1}


def cmd_insert(db, doc):
    coll = db[doc['insert']]
    ordered = doc.get('ordered', True)
    n, errors = 0, []
    for i, d in enumerate(doc.get('documents', [])):
        try:
            coll.insert_one(d)
            n += 1
        except mongomock.WriteError as err:
            errors.append(write_error(i, err))
            if ordered:
                break
    return write_reply(n, errors)


def cmd_update(db, doc):
    coll = db[doc['update']]
    ordered = doc.get('ordered', True)
    n, modified, upserted, errors = 0, 0, [], []
    for i, u in enumerate(doc.get('updates', [])):
        try:
            res = apply_update(coll, u.get('q') or {}, u.get('u') or {},
                               bool(u.get('upsert')), bool(u.get('multi')))
        except mongomock.WriteError as err:
            errors.append(write_error(i, err))
            if ordered:
                break
            continue
        if res.upserted_id is not None:
            upserted.append({'index': i, '_id': res.upserted_id})
            n += 1
        else:
            n += res.matched_count
            modified += res.modified_count
    extra = {'nModified': modified}
    if upserted:
        extra['upserted'] = upserted
    return write_reply(n, errors, **extra)


def cmd_delete(db, doc):
    coll = db[doc['delete']]
    ordered = doc.get('ordered', True)
    n, errors = 0, []
    for i, d in enumerate(doc.get('deletes', [])):
        try:
            if d.get('limit', 0) == 1:
                n += coll.delete_one(d.get('q') or {}).deleted_count
            else:
                n += coll.delete_many(d.get('q') or {}).deleted_count
        except mongomock.WriteError as err:
            errors.append(write_error(i, err))
            if ordered:
                break
    return write_reply(n, errors)


def cmd_find(db, doc):
    name = doc['find']
    limit = int(doc.get('limit') or 0)
    docs = list(db[name].find(doc.get('filter') or {},
                              projection=doc.get('projection') or None,
                              sort=sort_spec(doc),
                              skip=int(doc.get('skip') or 0),
                              limit=abs(limit)))
    single = bool(doc.get('singleBatch')) or limit < 0
    return cursor_reply('%s.%s' % (db.name, name), docs,
                        doc.get('batchSize'), 'firstBatch', single)


def cmd_get_more(db, doc):
    cursor_id = int(doc['getMore'])
    if cursor_id not in CURSORS:
        raise CommandError(43, 'cursor id %d not found' % cursor_id)
    ns, rest = CURSORS[cursor_id]
    return cursor_reply(ns, rest, doc.get('batchSize'), 'nextBatch', False,
                        cursor_id)


def cmd_kill_cursors(db, doc):
    killed, missing = [], []
    for cursor_id in doc.get('cursors', []):
        (killed if CURSORS.pop(int(cursor_id), None) else missing).append(
            cursor_id)
    return {'cursorsKilled': killed, 'cursorsNotFound': missing,
            'cursorsAlive': [], 'cursorsUnknown': [], 'ok': 1}


def cmd_find_and_modify(db, doc):
    coll = db[next(iter(doc.values()))]
    query = doc.get('query') or {}
    fields = doc.get('fields') or None
    old = coll.find_one(query, sort=sort_spec(doc))
    last = {'n': 0, 'updatedExisting': False}
    value, value_id = None, None
    if doc.get('remove'):
        if old is not None:
            coll.delete_one({'_id': old['_id']})
            last['n'] = 1
            value = old
    elif old is not None:
        apply_update(coll, {'_id': old['_id']}, doc.get('update') or {}, False)
        last = {'n': 1, 'updatedExisting': True}
        value, value_id = old, old['_id']
    elif doc.get('upsert'):
        res = apply_update(coll, query, doc.get('update') or {}, True)
        last = {'n': 1, 'updatedExisting': False, 'upserted': res.upserted_id}
        value_id = res.upserted_id
    if doc.get('new') and value_id is not None:
        value = coll.find_one({'_id': value_id}, projection=fields)
    elif value is not None and fields:
        value = {k: v for k, v in value.items() if k == '_id' or k in fields}
    return {'lastErrorObject': last, 'value': value, 'ok': 1}


def cmd_count(db, doc):
    cursor = db[doc['count']].find(doc.get('query') or {},
                                   skip=int(doc.get('skip') or 0),
                                   limit=abs(int(doc.get('limit') or 0)))
    return {'n': len(list(cursor)), 'ok': 1}


def cmd_aggregate(db, doc):
    name = doc['aggregate']
    if not isinstance(name, str):
        raise CommandError(115, 'database-level aggregate is not supported')
    pipeline = list(doc.get('pipeline') or [])
    if pipeline and list(pipeline[0]) == ['$match']:
        # A leading $match is a query: run it as find, then the rest of
        # the pipeline on what it found.
        found = list(db[name].find(pipeline[0]['$match']))
        docs = list(mongomock.aggregate.process_pipeline(
            found, db, pipeline[1:], None))
    else:
        docs = list(db[name].aggregate(pipeline))
    return cursor_reply('%s.%s' % (db.name, name), docs,
                        (doc.get('cursor') or {}).get('batchSize'),
                        'firstBatch', False)


INDEX_OPTIONS = ('name', 'unique', 'sparse', 'expireAfterSeconds',
                 'partialFilterExpression')


def create_partial_unique(coll, keys, spec):
    """A unique index with a partialFilterExpression: MongoDB checks only
    the documents the filter matches (mongomock's create_index checks them
    all, though its inserts honour the filter)."""
    seen = set()
    for d in coll.find(spec['partialFilterExpression']):
        value = tuple(repr(d.get(k)) for k, _ in keys)
        if value in seen:
            raise mongomock.DuplicateKeyError('E11000 duplicate key error',
                                              11000)
        seen.add(value)
    name = spec.get('name') or '_'.join('%s_%s' % kv for kv in keys)
    index = {'key': mongomock.helpers.create_index_list(keys),
             'unique': True,
             'partialFilterExpression': spec['partialFilterExpression']}
    old = coll._store.indexes.get(name)
    if old is not None and old != index:
        raise CommandError(85, 'Index with name: %s already exists with '
                               'different options' % name)
    coll._store.create_index(name, index)


def cmd_create_indexes(db, doc):
    coll = db[doc['createIndexes']]
    created = doc['createIndexes'] not in db.list_collection_names()
    before = len(coll.index_information())
    for spec in doc.get('indexes', []):
        keys = list(spec['key'].items())
        if keys == [('_id', 1)]:
            continue        # always there
        if spec.get('unique') and 'partialFilterExpression' in spec:
            create_partial_unique(coll, keys, spec)
            continue
        coll.create_index(keys, **{k: spec[k] for k in INDEX_OPTIONS
                                   if k in spec})
    return {'createdCollectionAutomatically': created,
            'numIndexesBefore': before,
            'numIndexesAfter': len(coll.index_information()), 'ok': 1}


def cmd_create(db, doc):
    try:
        db.create_collection(doc['create'])
    except mongomock.CollectionInvalid as err:
        raise CommandError(48, str(err))
    return {'ok': 1}


def cmd_drop(db, doc):
    db.drop_collection(doc['drop'])
    return {'ns': '%s.%s' % (db.name, doc['drop']), 'ok': 1}


def cmd_drop_database(db, doc):
    CLIENT.drop_database(db.name)
    return {'dropped': db.name, 'ok': 1}


def cmd_rename_collection(db, doc):
    if db.name != 'admin':
        raise CommandError(13, 'renameCollection may only be run against '
                               'the admin database')
    src_db, _, src = doc['renameCollection'].partition('.')
    dst_db, _, dst = doc['to'].partition('.')
    if src_db != dst_db:
        raise CommandError(20, 'renaming across databases is not supported')
    if src not in CLIENT[src_db].list_collection_names():
        raise CommandError(26, 'source namespace does not exist')
    CLIENT[src_db].rename_collection(src, dst,
                                     dropTarget=bool(doc.get('dropTarget')))
    return {'ok': 1}


def cmd_list_collections(db, doc):
    wanted = (doc.get('filter') or {}).get('name')
    docs = [{'name': name, 'type': 'collection', 'options': {},
             'info': {'readOnly': False}}
            for name in sorted(db.list_collection_names())
            if not isinstance(wanted, str) or name == wanted]
    return cursor_reply('%s.$cmd.listCollections' % db.name, docs,
                        (doc.get('cursor') or {}).get('batchSize'),
                        'firstBatch', False)


# Lower-case command name -> handler(database, command document).
COMMANDS = {
    'hello': cmd_hello,
    'ismaster': cmd_hello,
    'ping': cmd_ok,
    'buildinfo': cmd_build_info,
    'endsessions': cmd_ok,
    'getlasterror': cmd_get_last_error,
    'insert': cmd_insert,
    'update': cmd_update,
    'delete': cmd_delete,
    'find': cmd_find,
    'getmore': cmd_get_more,
    'killcursors': cmd_kill_cursors,
    'findandmodify': cmd_find_and_modify,
    'count': cmd_count,
    'aggregate': cmd_aggregate,
    'createindexes': cmd_create_indexes,
    'create': cmd_create,
    'drop': cmd_drop,
    'dropdatabase': cmd_drop_database,
    'renamecollection': cmd_rename_collection,
    'listcollections': cmd_list_collections,
}


def run_command(db_name, doc):
    if doc and next(iter(doc)) == '$query':   # legacy wrapped OP_QUERY
        doc = doc['$query']
    name = next(iter(doc), '')
    handler = COMMANDS.get(name.lower())
    if handler is None:
        log('unsupported command %r on %s' % (name, db_name))
        return {'ok': 0, 'code': 59, 'codeName': 'CommandNotFound',
                'errmsg': 'no such command: %r' % name}
    try:
        with LOCK:
            return handler(CLIENT[db_name], doc)
    except CommandError as err:
        return {'ok': 0, 'code': err.code, 'errmsg': err.errmsg}
    except mongomock.OperationFailure as err:   # includes DuplicateKeyError
        return {'ok': 0, 'code': err.code or 8, 'errmsg': str(err)}
    except Exception as err:   # mongomock NotImplementedError, bad input...
        log('%s failed: %s' % (name, traceback.format_exc()))
        return {'ok': 0, 'code': 1, 'errmsg': '%s: %s' % (
            type(err).__name__, err)}


def respond(request):
    """mockupdb autoresponder: every request ends here."""
    if not request.is_command:
        log('unsupported legacy opcode %r' % request)
        if isinstance(request, mockupdb.OpQuery):
            request.fail('legacy queries are not supported')
        return True
    reply = run_command(request.namespace, request.doc)
    if request.flags and request.flags & mockupdb.OP_MSG_FLAGS['moreToCome']:
        return True   # unacknowledged write: the client wants no reply
    request.replies(reply)
    return True


def main():
    # The data are millions of small objects that live as long as the
    # process: the default thresholds had the cyclic collector walk them
    # all over and over (a sixth of the CPU of a large import, growing
    # with the data). Cycles are still collected, less often.
    gc.set_threshold(100000, 50, 100)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--port-file')
    args = parser.parse_args()

    # request_timeout only matters for tests that pop requests by hand.
    server = mockupdb.MockupDB(port=args.port, request_timeout=int(1e6))
    server.autoresponds(respond)
    port = server.run()
    if args.port_file:
        tmp = '%s.%d.tmp' % (args.port_file, os.getpid())
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.rename(tmp, args.port_file)
    log('listening on 127.0.0.1:%d' % port)
    while not STOP.wait(1):
        pass
    server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
