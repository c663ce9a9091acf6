//! Redis: where clients are made, which functions hand them out, every
//! command run on one, and the index of keys and channels those commands
//! touch.
//!
//! A client is the value of a `redis`/`redis.asyncio` constructor
//! (`Redis(...)`, `Redis.from_url(...)`, `ConnectionPool`, `RedisCluster`,
//! `Sentinel`), under any import alias. An expression counts as a client
//! when it resolves to one: a variable bound to a constructor or to a call
//! of a first-party provider function, a parameter annotated `Redis` or
//! defaulting to `Depends(provider)`, a `self.x` assigned one in a method,
//! and the pipelines and pub/sub objects made from a client. Commands are
//! only looked for on such expressions, and keys are folded with
//! [`Program::eval_str`], so `f"job:{jid}:progress"` reads `job:{}:progress`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use super::calls::{
    argument, bound_name, called_function, instance_class, last_name, param_of, self_attr_values,
};
use super::values::{StrValue, literal_expr, substitute};
use super::wrappers::{Wrappers, param_passed};
use super::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, FPart, Param, ScopeKind, Stmt};

/// Everything Redis in a program.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct RedisMap {
    /// Client, pool, cluster and sentinel creations, by file and line.
    pub clients: Vec<RedisClient>,
    /// First-party functions that return (or yield) a client.
    pub providers: Vec<RedisProvider>,
    /// Every command run on a client, pipeline or pub/sub object.
    pub operations: Vec<RedisOp>,
    /// Each distinct key pattern and channel with who reads and writes it.
    pub keys: Vec<RedisKey>,
    /// First-party functions whose return value is used as a key.
    pub builders: Vec<KeyBuilder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Client,
    Cluster,
    /// A connection pool: not a client by itself, handed to one.
    Pool,
    /// A Sentinel: hands out clients with `master_for`/`slave_for`.
    Sentinel,
}

/// One place a client (or pool) is created.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RedisClient {
    pub file: String,
    pub line: u32,
    /// `module:qualname` of the enclosing function; absent at module level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The name it is bound to (`r`, `self.client`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    pub kind: ClientKind,
    /// The constructor as imported: `redis.Redis.from_url`,
    /// `redis.asyncio.from_url`.
    pub constructor: String,
    /// From `redis.asyncio` (or the older `aioredis`): commands return
    /// awaitables.
    pub is_async: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<StrValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<StrValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<StrValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<StrValue>,
    /// `file:line` of the pool passed as `connection_pool=` (or to
    /// `from_pool`), when it is one of [`RedisMap::clients`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// For django-redis's `get_redis_connection(alias)`: the cache of
    /// Django's `CACHES` setting whose client it is (`default` when no
    /// alias is given); the server is configured there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_alias: Option<StrValue>,
}

/// A first-party function that returns or yields a client, such as a
/// FastAPI dependency `get_redis()`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RedisProvider {
    /// `module:qualname`.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// The client it hands out is a `redis.asyncio` one.
    pub async_client: bool,
    /// `file:line` of the creation it returns, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
    /// Reads and removes: `lpop`, `brpop`, `spop`, `zpopmin`, `getdel`.
    /// The receiving end of a list used as a queue; indexed as a reader.
    Consume,
    Publish,
    Subscribe,
    Other,
}

/// A key (or channel) argument of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OpKey {
    pub key: StrValue,
    /// A glob (`scan_iter("analysis:*")`, `psubscribe("events.*")`), or a
    /// key taken from one.
    #[serde(skip_serializing_if = "is_false")]
    pub glob: bool,
    /// When the key is an attribute of the object the command runs on,
    /// set from what its constructor was given (`Queue(f"jobs:{id}")`):
    /// the function that builds that object. Flows that do not reach it
    /// do not use this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_in: Option<String>,
    /// The file of `given_in`.
    #[serde(skip)]
    pub given_in_file: Option<String>,
}

impl OpKey {
    fn new(key: StrValue, glob: bool) -> Self {
        OpKey {
            key,
            glob,
            given_in: None,
            given_in_file: None,
        }
    }
}

/// One command call.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RedisOp {
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Lower-case command (method) name: `set`, `hgetall`, `publish`.
    pub command: String,
    pub access: Access,
    /// The keys it names; for publish/subscribe, the channels. Empty for
    /// commands without a key (`execute`, `ping`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<OpKey>,
    /// `module:qualname` of the first-party function that built the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// When the key is passed in by the caller: the first-party functions
    /// the key goes through down to the command, outermost first (`module:
    /// qualname at file:line`); `file`, `line` and `function` are then the
    /// call that writes the key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// Queued on a pipeline; runs at its `execute()`.
    #[serde(skip_serializing_if = "is_false")]
    pub via_pipeline: bool,
    /// Line of the `pipeline()` call the command is queued on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_line: Option<u32>,
    /// Line of the `pubsub()` call, for commands on a pub/sub object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubsub_line: Option<u32>,
    #[serde(skip_serializing_if = "is_false")]
    pub awaited: bool,
    /// The client is a `redis.asyncio` one.
    #[serde(skip_serializing_if = "is_false")]
    pub async_client: bool,
    /// `file:line` of the client creation, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// `module:qualname` of the provider the client came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub conditional: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub in_loop: bool,
    /// Inside `while True`: a poll or consumer loop.
    #[serde(skip_serializing_if = "is_false")]
    pub loop_forever: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Key,
    Channel,
}

/// One command's use of a key or channel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct KeyUse {
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    pub command: String,
    /// As [`OpKey::given_in`]: the function that gave the object its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_in: Option<String>,
    #[serde(skip)]
    pub given_in_file: Option<String>,
}

/// A key pattern or channel, with everything that touches it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RedisKey {
    /// The key text, `{}` for run-time parts: `analysis:{}:progress`.
    pub key: String,
    pub kind: KeyKind,
    /// A glob pattern rather than a key (`*`, `?` and `[...]` are
    /// wildcards).
    #[serde(skip_serializing_if = "is_false")]
    pub glob: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<KeyUse>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<KeyUse>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publishers: Vec<KeyUse>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscribers: Vec<KeyUse>,
    /// For a glob: the other keys (or channels) of this map it matches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
}

/// A function whose return value is used as a key.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KeyBuilder {
    pub function: String,
    pub file: String,
    /// Line of its `return`.
    pub line: u32,
    /// What it returns, its parameters as holes.
    pub pattern: StrValue,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Builds the Redis map of a program.
pub fn redis_map(program: &Program) -> RedisMap {
    if !imports_redis(program) {
        return RedisMap::default();
    }
    let cx = Cx {
        p: program,
        providers: RefCell::new(HashMap::new()),
        redis_names: redis_names(program),
        wrappers: Wrappers::new(program),
    };
    let mut map = RedisMap {
        clients: cx.clients(),
        ..RedisMap::default()
    };
    let mut builders: BTreeMap<(usize, u32), KeyBuilder> = BTreeMap::new();
    map.operations = cx.operations(&mut builders);
    receive_subscribed(&mut map.operations);
    // Providers are known from what the scan resolved, plus every function
    // that creates a client and returns it, so one nobody calls is listed.
    for c in &map.clients {
        if let Some(f) = program.file(&c.file) {
            cx.note_creator_provider(f, c.line);
        }
    }
    map.providers = cx.provider_list();
    map.keys = key_index(&map.operations);
    map.builders = builders.into_values().collect();
    map.builders
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    map
}

/// The names each file's imports of `redis` (or `aioredis`) bind.
fn redis_names(program: &Program) -> Vec<Vec<String>> {
    program
        .files
        .iter()
        .map(|f| {
            let Some(facts) = &f.facts else {
                return Vec::new();
            };
            let mut names = Vec::new();
            for i in &facts.imports {
                if i.level != 0
                    || !matches!(
                        i.module.split('.').next(),
                        Some("redis" | "aioredis" | "django_redis")
                    )
                {
                    continue;
                }
                if i.names.is_empty() {
                    let bound = i
                        .alias
                        .as_deref()
                        .unwrap_or_else(|| i.module.split('.').next().unwrap_or(""))
                        .to_string();
                    names.push(bound);
                } else {
                    names.extend(i.names.iter().map(|n| n.bound().to_string()));
                }
            }
            names.sort();
            names.dedup();
            names
        })
        .collect()
}

/// Without any `redis` import there can be no client; this spares the
/// command scan on programs that do not use Redis at all.
fn imports_redis(program: &Program) -> bool {
    program.analyzed().any(|(_, _, facts)| {
        facts.imports.iter().any(|i| {
            i.level == 0
                && matches!(
                    i.module.split('.').next(),
                    Some("redis" | "aioredis" | "django_redis")
                )
        })
    })
}

const MAX_DEPTH: u32 = 16;

/// Call sites looked at to learn what a parameter holds.
const MAX_CALLERS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HKind {
    Client,
    Pool,
    Sentinel,
    Pipeline,
    PubSub,
}

/// What an expression was found to be.
#[derive(Debug, Clone, Copy)]
struct Handle {
    kind: HKind,
    is_async: bool,
    /// (file, line) of the creation.
    created: Option<(usize, u32)>,
    /// (file, scope) of the provider function it came from.
    provider: Option<(usize, u32)>,
    /// Line of the `pipeline()` or `pubsub()` call.
    derived: Option<u32>,
}

/// What a constructor makes, and how it is told where the server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Ctor,
    FromUrl,
    FromPool,
    /// Configured elsewhere and looked up by name (Django's `CACHES`).
    Configured,
}

/// Last names of constructors, checked before anything is resolved.
const CONSTRUCTOR_NAMES: [&str; 11] = [
    "Redis",
    "StrictRedis",
    "from_url",
    "from_pool",
    "RedisCluster",
    "ConnectionPool",
    "BlockingConnectionPool",
    "Sentinel",
    "create_redis_pool",
    "create_redis",
    "create_pool",
];

/// `redis.asyncio.client.Redis` -> (async, `Redis`).
fn split_redis_path(q: &str) -> Option<(bool, &str)> {
    let (is_async, rest) = if let Some(r) = q.strip_prefix("redis.asyncio.") {
        (true, r)
    } else if let Some(r) = q.strip_prefix("aioredis.") {
        (true, r)
    } else if let Some(r) = q.strip_prefix("redis.") {
        (false, r)
    } else if let Some(r) = q.strip_prefix("django_redis.") {
        (false, r)
    } else {
        return None;
    };
    let rest = [
        "client.",
        "cluster.",
        "connection.",
        "sentinel.",
        "commands.",
    ]
    .iter()
    .find_map(|p| rest.strip_prefix(p))
    .unwrap_or(rest);
    Some((is_async, rest))
}

fn creation(q: &str) -> Option<(ClientKind, bool, Form)> {
    let (is_async, rest) = split_redis_path(q)?;
    let (kind, form) = match rest {
        "Redis" | "StrictRedis" => (ClientKind::Client, Form::Ctor),
        "from_url" | "Redis.from_url" | "StrictRedis.from_url" => {
            (ClientKind::Client, Form::FromUrl)
        }
        "Redis.from_pool" | "StrictRedis.from_pool" => (ClientKind::Client, Form::FromPool),
        // aioredis 1.x
        "create_redis_pool" | "create_redis" | "create_pool" if q.starts_with("aioredis.") => {
            (ClientKind::Client, Form::FromUrl)
        }
        "RedisCluster" => (ClientKind::Cluster, Form::Ctor),
        "RedisCluster.from_url" => (ClientKind::Cluster, Form::FromUrl),
        "ConnectionPool" | "BlockingConnectionPool" => (ClientKind::Pool, Form::Ctor),
        "ConnectionPool.from_url" | "BlockingConnectionPool.from_url" => {
            (ClientKind::Pool, Form::FromUrl)
        }
        "Sentinel" => (ClientKind::Sentinel, Form::Ctor),
        // django-redis hands out the raw client of a cache from `CACHES`.
        "get_redis_connection" if q.starts_with("django_redis.") => {
            (ClientKind::Client, Form::Configured)
        }
        _ => return None,
    };
    Some((kind, is_async, form))
}

/// A type annotation naming a client class.
fn client_type(q: &str) -> Option<(HKind, bool)> {
    let (is_async, rest) = split_redis_path(q)?;
    Some(match rest {
        "Redis" | "StrictRedis" | "RedisCluster" => (HKind::Client, is_async),
        "Pipeline" | "ClusterPipeline" => (HKind::Pipeline, is_async),
        "PubSub" => (HKind::PubSub, is_async),
        _ => return None,
    })
}

/// Which arguments of a command are keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    None,
    /// The first argument (`name`).
    First,
    /// `rename(src, dst)`, `lmove(first, second)`.
    FirstTwo,
    /// Every positional argument, lists flattened: `delete(a, b)`,
    /// `mget([a, b])`, `subscribe(a, b)`.
    All,
    /// The keys of a mapping: `mset({k: v})`, `xread({stream: id})`.
    Mapping,
    /// A `match`/`pattern` glob: `scan_iter`, `keys`, `scan`.
    Match,
    /// A Lua script's keys: `eval(script, numkeys, key1, ..., arg1, ...)`.
    Script,
}

/// Which objects a command is called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Client,
    PubSub,
    Both,
}

fn command(name: &str) -> Option<(Access, Keys, On)> {
    use Access::*;
    use Keys::{All, First, FirstTwo, Mapping, Match};
    let k = match name {
        "get" | "getrange" | "strlen" | "getbit" | "bitcount" | "ttl" | "pttl" | "type"
        | "hget" | "hgetall" | "hmget" | "hkeys" | "hvals" | "hlen" | "hexists" | "hstrlen"
        | "hscan" | "hscan_iter" | "hrandfield" | "lrange" | "llen" | "lindex" | "lpos"
        | "smembers" | "sismember" | "smismember" | "scard" | "srandmember" | "sscan"
        | "sscan_iter" | "zrange" | "zrevrange" | "zrangebyscore" | "zrevrangebyscore"
        | "zrangebylex" | "zscore" | "zmscore" | "zrank" | "zrevrank" | "zcard" | "zcount"
        | "zscan" | "zscan_iter" | "xrange" | "xrevrange" | "xlen" | "xinfo_stream"
        | "xpending" | "dump" | "geopos" | "geodist" | "georadius" | "geosearch" | "getex" => {
            (Read, First, On::Client)
        }
        "lpop" | "rpop" | "spop" | "zpopmin" | "zpopmax" | "getdel" => (Consume, First, On::Client),
        // `brpop(keys, timeout)`: one key or a list of them.
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => (Consume, First, On::Client),
        // A script can do anything to its keys: count it as writing them
        // (the key index lists it among the readers too).
        "eval" | "evalsha" | "fcall" => (Write, Keys::Script, On::Client),
        "eval_ro" | "evalsha_ro" | "fcall_ro" => (Read, Keys::Script, On::Client),
        "mget" | "exists" | "sinter" | "sunion" | "sdiff" | "pfcount" => (Read, All, On::Client),
        "xread" => (Read, Mapping, On::Client),
        "scan_iter" | "scan" | "keys" => (Read, Match, On::Client),
        "set" | "setex" | "psetex" | "setnx" | "getset" | "append" | "setrange" | "setbit"
        | "hset" | "hsetnx" | "hmset" | "hdel" | "hincrby" | "hincrbyfloat" | "expire"
        | "pexpire" | "expireat" | "pexpireat" | "persist" | "incr" | "decr" | "incrby"
        | "decrby" | "incrbyfloat" | "lpush" | "rpush" | "lpushx" | "rpushx" | "lset" | "lrem"
        | "ltrim" | "linsert" | "sadd" | "srem" | "zadd" | "zrem" | "zincrby"
        | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" | "zunionstore"
        | "zinterstore" | "xadd" | "xdel" | "xtrim" | "xack" | "xgroup_create" | "xclaim"
        | "xautoclaim" | "pfadd" | "restore" | "geoadd" | "lock" => (Write, First, On::Client),
        "mset" | "msetnx" => (Write, Mapping, On::Client),
        "delete" | "unlink" | "sinterstore" | "sunionstore" | "sdiffstore" | "pfmerge" => {
            (Write, All, On::Client)
        }
        "rename" | "renamenx" | "rpoplpush" | "brpoplpush" | "lmove" | "blmove" | "smove"
        | "copy" => (Write, FirstTwo, On::Client),
        "publish" | "spublish" => (Publish, First, On::Client),
        "subscribe" | "psubscribe" | "ssubscribe" => (Subscribe, All, On::PubSub),
        "unsubscribe" | "punsubscribe" | "sunsubscribe" => (Other, All, On::PubSub),
        "listen" | "get_message" | "run_in_thread" => (Other, Keys::None, On::PubSub),
        "watch" | "touch" => (Other, All, On::Client),
        "execute" | "execute_command" | "ping" | "flushdb" | "flushall" | "info" | "close"
        | "aclose" | "multi" | "unwatch" | "reset" | "dbsize" | "time" | "config_get"
        | "config_set" | "echo" | "save" | "bgsave" | "randomkey" | "register_script"
        | "script_load" | "client_list" | "wait" => (Other, Keys::None, On::Client),
        _ => return None,
    };
    // Closing and pinging work on pub/sub objects as well.
    Some(match (k.0, k.1, name) {
        (_, _, "close" | "aclose" | "ping" | "reset") => (k.0, k.1, On::Both),
        _ => k,
    })
}

struct Cx<'p> {
    p: &'p Program,
    /// Provider functions by (file, scope); `None` while being computed
    /// (breaks recursion) or when the function hands out no client.
    providers: RefCell<HashMap<(usize, u32), Option<Handle>>>,
    /// Per file, the names its imports of `redis` bind (`redis`,
    /// `aioredis`, `AsyncRedis`): a call through one of them may make a
    /// client whatever it is called.
    redis_names: Vec<Vec<String>>,
    /// The calls of the program, to follow a key out through the functions
    /// that pass it on.
    wrappers: Wrappers<'p>,
}

impl<'p> Cx<'p> {
    /// A cheap test before resolving a call: its last name is a
    /// constructor's, or it goes through a name a `redis` import binds.
    fn may_construct(&self, file: usize, func: &Expr) -> bool {
        if last_name(func).is_some_and(|l| CONSTRUCTOR_NAMES.contains(&l)) {
            return true;
        }
        let mut root = func;
        while let Expr::Attr(base, _) = root {
            root = base;
        }
        matches!(root, Expr::Name(n) if self.redis_names[file].iter().any(|r| r == n))
    }

    fn function_ref(&self, file: usize, scope: u32) -> Option<String> {
        (scope != 0).then(|| self.p.def_ref(file, scope))
    }

    fn at(&self, file: usize, line: u32) -> String {
        format!("{}:{line}", self.p.files[file].path)
    }

    // ----- clients -----

    fn clients(&self) -> Vec<RedisClient> {
        let mut out = Vec::new();
        for (file, rec, facts) in self.p.analyzed() {
            for (si, sc) in facts.scopes.iter().enumerate() {
                let si = si as u32;
                for st in &sc.stmts {
                    let Stmt::Call { call, .. } = st else {
                        continue;
                    };
                    if !self.may_construct(file, &call.func) {
                        continue;
                    }
                    let Some(q) = self.p.qualify(file, si, &call.func) else {
                        continue;
                    };
                    let Some((kind, is_async, form)) = creation(&q) else {
                        continue;
                    };
                    let ev = |e: Option<&Expr>| e.map(|e| self.p.eval_str(file, si, e));
                    let (url, host, port, db) = match form {
                        Form::FromUrl => (
                            ev(call.arg(0, "url").or_else(|| call.kwarg("address"))),
                            None,
                            None,
                            ev(call.kwarg("db")),
                        ),
                        Form::Ctor if kind == ClientKind::Pool => (
                            None,
                            ev(call.kwarg("host")),
                            ev(call.kwarg("port")),
                            ev(call.kwarg("db")),
                        ),
                        Form::Ctor if kind == ClientKind::Sentinel => (None, None, None, None),
                        Form::Ctor => (
                            ev(call.kwarg("url")),
                            ev(call.arg(0, "host")),
                            ev(call.arg(1, "port")),
                            ev(call.arg(2, "db")),
                        ),
                        Form::FromPool | Form::Configured => (None, None, None, None),
                    };
                    let pool_expr = match form {
                        Form::FromPool => call.arg(0, "connection_pool"),
                        _ => call.kwarg("connection_pool"),
                    };
                    let pool = pool_expr
                        .and_then(|e| self.handle(file, si, e, 0))
                        .filter(|h| h.kind == HKind::Pool)
                        .and_then(|h| h.created)
                        .map(|(f, l)| self.at(f, l));
                    let cache_alias = (form == Form::Configured).then(|| {
                        call.arg(0, "alias").map_or_else(
                            || StrValue::Known {
                                value: "default".to_string(),
                                note: None,
                            },
                            |e| self.p.eval_str(file, si, e),
                        )
                    });
                    out.push(RedisClient {
                        file: rec.path.clone(),
                        line: call.line,
                        function: self.function_ref(file, si),
                        variable: bound_name(&sc.stmts, call),
                        kind,
                        constructor: q,
                        is_async,
                        url,
                        host,
                        port,
                        db,
                        pool,
                        cache_alias,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        out.dedup_by(|a, b| a.file == b.file && a.line == b.line && a.constructor == b.constructor);
        out
    }

    /// A function that creates a client on `line` becomes a provider when
    /// it hands that client out.
    fn note_creator_provider(&self, file: usize, line: u32) {
        let Some(facts) = &self.p.files[file].facts else {
            return;
        };
        for (si, sc) in facts.scopes.iter().enumerate() {
            if sc.kind == ScopeKind::Function && sc.line <= line && line <= sc.end_line {
                self.provider(file, si as u32, 0);
            }
        }
    }

    fn provider_list(&self) -> Vec<RedisProvider> {
        let cache = self.providers.borrow();
        let mut out: Vec<RedisProvider> = cache
            .iter()
            .filter_map(|(&(f, s), h)| {
                let h = h.as_ref()?;
                if h.kind != HKind::Client {
                    return None;
                }
                Some(RedisProvider {
                    function: self.p.def_ref(f, s),
                    file: self.p.files[f].path.clone(),
                    line: self.p.scope(f, s)?.line,
                    async_client: h.is_async,
                    client: h.created.map(|(cf, cl)| self.at(cf, cl)),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        out
    }

    // ----- what an expression is -----

    fn handle(&self, file: usize, scope: u32, expr: &Expr, depth: u32) -> Option<Handle> {
        if depth > MAX_DEPTH {
            return None;
        }
        let d = depth + 1;
        match expr {
            Expr::Await(e) => self.handle(file, scope, e, d),
            Expr::Call(c) => self.call_handle(file, scope, c, d),
            Expr::Name(_) | Expr::Attr(..) => match self.p.resolve(file, scope, expr) {
                Target::Value {
                    file: f,
                    scope: s,
                    value,
                    ..
                } => self.handle(f, s, value, d),
                Target::Unknown => match expr {
                    Expr::Name(n) => {
                        let (fs, param) = param_of(self.p, file, scope, n)?;
                        self.param_handle(file, fs, param, d)
                    }
                    Expr::Attr(base, attr) => self
                        .self_attr(file, scope, base, attr, d)
                        .or_else(|| self.property(file, scope, base, attr, d)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    fn call_handle(&self, file: usize, scope: u32, c: &Call, d: u32) -> Option<Handle> {
        if let Expr::Attr(recv, m) = &c.func {
            let derive = |kind: HKind| {
                let h = self.handle(file, scope, recv, d)?;
                (h.kind == HKind::Client).then_some(Handle {
                    kind,
                    derived: Some(c.line),
                    ..h
                })
            };
            match m.as_str() {
                "pipeline" => return derive(HKind::Pipeline),
                "pubsub" => return derive(HKind::PubSub),
                "master_for" | "slave_for" => {
                    let h = self.handle(file, scope, recv, d)?;
                    return (h.kind == HKind::Sentinel).then_some(Handle {
                        kind: HKind::Client,
                        ..h
                    });
                }
                // Pipeline commands return the pipeline: `p.set(..).expire(..)`.
                m if command(m).is_some() => {
                    if let Some(h) = self.handle(file, scope, recv, d)
                        && h.kind == HKind::Pipeline
                    {
                        return Some(h);
                    }
                }
                _ => {}
            }
        }
        if self.may_construct(file, &c.func)
            && let Some(q) = self.p.qualify(file, scope, &c.func)
            && let Some((kind, is_async, _)) = creation(&q)
        {
            return Some(Handle {
                kind: match kind {
                    ClientKind::Client | ClientKind::Cluster => HKind::Client,
                    ClientKind::Pool => HKind::Pool,
                    ClientKind::Sentinel => HKind::Sentinel,
                },
                is_async,
                created: Some((file, c.line)),
                provider: None,
                derived: None,
            });
        }
        match self.p.resolve(file, scope, &c.func) {
            Target::Def { file: f, scope: s } => {
                let sc = self.p.scope(f, s)?;
                match sc.kind {
                    ScopeKind::Function => self.provider(f, s, d),
                    // A first-party subclass of the client.
                    ScopeKind::Class => {
                        let bases = [
                            "redis.Redis",
                            "redis.StrictRedis",
                            "redis.client.Redis",
                            "redis.asyncio.Redis",
                            "redis.asyncio.client.Redis",
                        ];
                        self.p.class_extends(f, s, &bases).then_some(Handle {
                            kind: HKind::Client,
                            is_async: false,
                            created: Some((file, c.line)),
                            provider: None,
                            derived: None,
                        })
                    }
                    ScopeKind::Module => None,
                }
            }
            // `Handler().redis()`, `self.store.client()`: a method of an
            // instance whose class is known.
            _ => {
                let (f, s, _) = called_function(self.p, file, scope, &c.func)?;
                self.provider(f, s, d)
            }
        }
    }

    /// The client (or pipeline, or pub/sub object) a first-party function
    /// returns or yields, if any.
    fn provider(&self, file: usize, scope: u32, d: u32) -> Option<Handle> {
        if let Some(h) = self.providers.borrow().get(&(file, scope)) {
            return *h;
        }
        self.providers.borrow_mut().insert((file, scope), None);
        let sc = self.p.scope(file, scope)?;
        let mut found = sc
            .stmts
            .iter()
            .filter_map(|st| match st {
                Stmt::Return { value: Some(v), .. } => Some(v),
                _ => None,
            })
            .chain(sc.yielded.iter())
            .find_map(|v| self.handle(file, scope, v, d + 1));
        if found.is_none()
            && let Some(ret) = &sc.returns
        {
            found = self.annotation_handle(file, sc.parent.unwrap_or(0), ret, d + 1);
        }
        let found = found
            .filter(|h| matches!(h.kind, HKind::Client | HKind::Pipeline | HKind::PubSub))
            .map(|h| Handle {
                provider: Some((file, scope)),
                ..h
            });
        self.providers.borrow_mut().insert((file, scope), found);
        found
    }

    fn param_handle(&self, file: usize, fscope: u32, param: &Param, d: u32) -> Option<Handle> {
        let outer = self.p.scope(file, fscope)?.parent.unwrap_or(0);
        if let Some(Expr::Call(c)) = &param.default
            && let Some(h) = self.depends_handle(file, outer, c, d)
        {
            return Some(h);
        }
        if let Some(h) = param
            .annotation
            .as_ref()
            .and_then(|a| self.annotation_handle(file, outer, a, d))
        {
            return Some(h);
        }
        // An unannotated parameter: what the callers pass for it
        // (`Queue(client, name)` for `def __init__(self, client, name)`).
        if d > MAX_DEPTH / 2 {
            return None;
        }
        let sc = self.p.scope(file, fscope)?;
        let index = sc.params.iter().position(|p| p.name == param.name)?;
        self.wrappers
            .callers(file, fscope)
            .iter()
            .take(MAX_CALLERS)
            .find_map(|(cf, cs, call, skip)| {
                let arg = argument(call, &sc.params, index, *skip)?;
                self.handle(*cf, *cs, arg, d + 1)
            })
    }

    /// What `self.attr` holds when the class sets it from a parameter of
    /// one of its methods (`self.name = name` in `__init__`): the
    /// arguments passed for that parameter where the method is called
    /// (where the class is built), each with the file and scope it is
    /// written in.
    fn self_param_values(
        &self,
        file: usize,
        scope: u32,
        e: &Expr,
    ) -> Option<Vec<(usize, u32, Expr)>> {
        let Expr::Attr(base, attr) = e else {
            return None;
        };
        let mut out = Vec::new();
        for (vf, vs, value) in self_attr_values(self.p, file, scope, base, attr) {
            let Expr::Name(n) = value else { continue };
            let Some(sc) = self.p.scope(vf, vs) else {
                continue;
            };
            let Some(index) = sc.params.iter().position(|p| p.name == n) else {
                continue;
            };
            for (cf, cs, call, skip) in self.wrappers.callers(vf, vs).iter().take(MAX_CALLERS) {
                if let Some(arg) = argument(call, &sc.params, index, *skip) {
                    out.push((*cf, *cs, arg.clone()));
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// A key built around one `self.attr` that the class sets from a
    /// constructor argument (`f"{self.scope}:{key}"` with `self.scope =
    /// scope` in `__init__`): the key folded once per place the class is
    /// built, with what that place passes, each as a literal that reads the
    /// same in the builder's scope. Keys with several such attributes are
    /// left to the plain fold.
    fn self_param_parts(
        &self,
        file: usize,
        scope: u32,
        e: &Expr,
    ) -> Option<Vec<(usize, u32, Expr)>> {
        let mut attrs: Vec<&Expr> = Vec::new();
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            match x {
                Expr::Attr(base, _) if matches!(&**base, Expr::Name(_)) && !attrs.contains(&x) => {
                    attrs.push(x);
                }
                Expr::FStr(parts) => stack.extend(parts.iter().filter_map(|p| match p {
                    FPart::Hole(h) => Some(h),
                    FPart::Lit(_) => None,
                })),
                Expr::BinOp(l, _, r) => stack.extend([&**l, &**r]),
                Expr::Call(c) => {
                    stack.extend(c.args.iter().chain(c.kwargs.iter().map(|k| &k.value)))
                }
                _ => {}
            }
        }
        let mut found = attrs
            .into_iter()
            .filter_map(|a| Some((a, self.self_param_values(file, scope, a)?)));
        let (attr, givers) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let Expr::Attr(base, name) = attr else {
            return None;
        };
        let Expr::Name(me) = &**base else {
            return None;
        };
        let key = format!("{me}.{name}");
        let mut out = Vec::new();
        for (gf, gs, given) in givers {
            let value = self.p.eval_str(gf, gs, &given);
            let replacement =
                literal_expr(&value).unwrap_or_else(|| Expr::Other("run-time value".into()));
            let map = HashMap::from([(key.as_str(), replacement)]);
            let folded = self.p.eval_str(file, scope, &substitute(e, &map));
            if let Some(lit) = literal_expr(&folded) {
                out.push((gf, gs, lit));
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// `Depends(provider)`.
    fn depends_handle(&self, file: usize, scope: u32, c: &Call, d: u32) -> Option<Handle> {
        if last_name(&c.func) != Some("Depends") {
            return None;
        }
        let Target::Def { file: f, scope: s } =
            self.p.resolve(file, scope, c.arg(0, "dependency")?)
        else {
            return None;
        };
        (self.p.scope(f, s)?.kind == ScopeKind::Function)
            .then(|| self.provider(f, s, d))
            .flatten()
    }

    fn annotation_handle(&self, file: usize, scope: u32, ann: &Expr, d: u32) -> Option<Handle> {
        if d > MAX_DEPTH {
            return None;
        }
        let d = d + 1;
        let plain = |kind: HKind, is_async: bool| Handle {
            kind,
            is_async,
            created: None,
            provider: None,
            derived: None,
        };
        match ann {
            // `Annotated[Redis, Depends(get_redis)]`, `Optional[Redis]`.
            Expr::Subscript(base, items) => {
                let q = self.p.qualify(file, scope, base).unwrap_or_default();
                if q.ends_with("Annotated") {
                    for it in items.iter().skip(1) {
                        if let Expr::Call(c) = it
                            && let Some(h) = self.depends_handle(file, scope, c, d)
                        {
                            return Some(h);
                        }
                    }
                    self.annotation_handle(file, scope, items.first()?, d)
                } else if q.ends_with("Optional") || q.ends_with("Union") {
                    items
                        .iter()
                        .find_map(|i| self.annotation_handle(file, scope, i, d))
                } else {
                    None
                }
            }
            Expr::BinOp(l, crate::scan::facts::BinOp::BitOr, r) => self
                .annotation_handle(file, scope, l, d)
                .or_else(|| self.annotation_handle(file, scope, r, d)),
            Expr::Str(s) => {
                let e = dotted_expr(s)?;
                self.annotation_handle(file, scope, &e, d)
            }
            Expr::Name(_) | Expr::Attr(..) => match self.p.resolve(file, scope, ann) {
                // A type alias: `RedisDep = Annotated[Redis, Depends(get_redis)]`.
                Target::Value {
                    file: f,
                    scope: s,
                    value: v @ Expr::Subscript(..),
                    ..
                } => self.annotation_handle(f, s, v, d),
                Target::External(q) => client_type(&q).map(|(k, a)| plain(k, a)),
                _ => None,
            },
            _ => None,
        }
    }

    /// `self.x` in a method, where some method of the class (or the class
    /// body) assigns `x` a client.
    /// `obj.conn` where `conn` is a `@property` of the object's class.
    fn property(&self, file: usize, scope: u32, base: &Expr, attr: &str, d: u32) -> Option<Handle> {
        let (cf, cs) = instance_class(self.p, file, scope, base)?;
        let (mf, ms) = self.p.method_def(cf, cs, attr)?;
        let is_property = self
            .p
            .scope(mf, ms)?
            .decorators
            .iter()
            .any(|dec| dec.dotted().is_some_and(|x| x.ends_with("property")));
        is_property.then(|| self.provider(mf, ms, d)).flatten()
    }

    fn self_attr(
        &self,
        file: usize,
        scope: u32,
        base: &Expr,
        attr: &str,
        d: u32,
    ) -> Option<Handle> {
        self_attr_values(self.p, file, scope, base, attr)
            .into_iter()
            .find_map(|(f, s, v)| self.handle(f, s, v, d))
    }

    // ----- commands -----

    fn operations(&self, builders: &mut BTreeMap<(usize, u32), KeyBuilder>) -> Vec<RedisOp> {
        let mut out = Vec::new();
        for (file, rec, facts) in self.p.analyzed() {
            for (si, sc) in facts.scopes.iter().enumerate() {
                let si = si as u32;
                for st in &sc.stmts {
                    let Stmt::Call { call, awaited, ctx } = st else {
                        continue;
                    };
                    let Expr::Attr(recv, method) = &call.func else {
                        continue;
                    };
                    let name = method.as_str().to_ascii_lowercase();
                    let Some((access, keys, on)) = command(&name) else {
                        continue;
                    };
                    let Some(h) = self.handle(file, si, recv, 0) else {
                        continue;
                    };
                    let fits = match h.kind {
                        HKind::Client | HKind::Pipeline => on != On::PubSub,
                        HKind::PubSub => on != On::Client,
                        HKind::Pool | HKind::Sentinel => false,
                    };
                    if !fits {
                        continue;
                    }
                    let mut builder = None;
                    let keys = self.op_keys(file, si, call, &name, keys, &mut builder);
                    let builder = builder.map(|(bf, bs, line, pattern)| {
                        let function = self.p.def_ref(bf, bs);
                        builders.entry((bf, bs)).or_insert_with(|| KeyBuilder {
                            function: function.clone(),
                            file: self.p.files[bf].path.clone(),
                            line,
                            pattern,
                        });
                        function
                    });
                    let op = RedisOp {
                        file: rec.path.clone(),
                        line: call.line,
                        function: self.function_ref(file, si),
                        command: name,
                        access,
                        keys,
                        builder,
                        via: Vec::new(),
                        via_pipeline: h.kind == HKind::Pipeline,
                        pipeline_line: h.derived.filter(|_| h.kind == HKind::Pipeline),
                        pubsub_line: h.derived.filter(|_| h.kind == HKind::PubSub),
                        awaited: *awaited,
                        async_client: h.is_async,
                        client: h.created.map(|(f, l)| self.at(f, l)),
                        provider: h.provider.map(|(f, s)| self.p.def_ref(f, s)),
                        conditional: ctx.conditional,
                        in_loop: ctx.loop_line().is_some(),
                        loop_forever: ctx.loop_forever,
                    };
                    out.extend(self.through_wrappers(file, si, call, op));
                }
            }
        }
        out.sort_by(|a, b| (&a.file, a.line, &a.command).cmp(&(&b.file, b.line, &b.command)));
        out
    }

    /// An operation whose key is a bare parameter of the function it is
    /// in (`def save(key, v): r.set(key, v)`) happens, as far as the key
    /// goes, where that function is called: one operation per call site
    /// (wrappers of wrappers too), placed at the call and naming the key
    /// written there, with the wrappers in `via`. With no caller, the
    /// operation stays as it is.
    fn through_wrappers(
        &self,
        file: usize,
        scope: u32,
        call: &Arc<Call>,
        op: RedisOp,
    ) -> Vec<RedisOp> {
        let Some(first) =
            command(&op.command).and_then(|(_, keys, _)| single_key(call, &op.command, keys))
        else {
            return vec![op];
        };
        if param_passed(self.p, file, scope, first).is_none() {
            return vec![op];
        }
        let sites = self.wrappers.follow(
            file,
            scope,
            Arc::clone(call),
            vec![Some((file, scope, first.clone()))],
            0,
        );
        let mut out = Vec::new();
        for site in sites.into_iter().filter(|s| !s.via.is_empty()) {
            let Some((kf, ks, key)) = &site.args[0] else {
                continue;
            };
            let mut keys = Vec::new();
            let alts = self
                .p
                .alternatives(*kf, *ks, key)
                .or_else(|| self.returned_keys(*kf, *ks, key))
                .unwrap_or_else(|| vec![(*kf, *ks, key.clone())]);
            for (af, asc, alt) in alts {
                let mut builder = None;
                let (key, glob) = self.key_value(af, asc, &alt, &mut builder);
                let key = OpKey::new(key, glob);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            out.push(RedisOp {
                file: self.p.files[site.file].path.clone(),
                line: site.call.line,
                function: self.function_ref(site.file, site.scope),
                keys,
                via: site.via,
                ..op.clone()
            });
        }
        if out.is_empty() { vec![op] } else { out }
    }

    fn op_keys(
        &self,
        file: usize,
        scope: u32,
        call: &Call,
        name: &str,
        keys: Keys,
        builder: &mut Option<(usize, u32, u32, StrValue)>,
    ) -> Vec<OpKey> {
        let glob_command = name == "psubscribe";
        let mut exprs: Vec<&Expr> = Vec::new();
        match keys {
            Keys::None => {}
            Keys::First => {
                let first = if name.ends_with("publish") {
                    call.arg(0, "channel")
                } else {
                    call.arg(0, "name")
                        .or_else(|| call.kwarg("key"))
                        .or_else(|| call.kwarg("keys"))
                };
                match first.and_then(Expr::elements) {
                    Some(items) => exprs.extend(items),
                    None => exprs.extend(first),
                }
            }
            Keys::FirstTwo => {
                exprs.extend(call.args.iter().take(2));
                for kw in [
                    "src",
                    "dst",
                    "source",
                    "destination",
                    "first_list",
                    "second_list",
                ] {
                    exprs.extend(call.kwarg(kw));
                }
            }
            Keys::All => {
                for a in call.args.iter().chain(call.kwarg("keys")) {
                    match a {
                        // `mget([f"seen:{i}" for i in ids])`: every element
                        // has the shape of the comprehension's.
                        Expr::Comprehension(element) => exprs.push(element),
                        a => match a.elements() {
                            Some(items) => exprs.extend(items),
                            None => exprs.push(a),
                        },
                    }
                }
            }
            // `eval(script, numkeys, *keys_and_args)`: the first `numkeys`
            // arguments after the count are keys.
            Keys::Script => {
                let count = call
                    .arg(1, "numkeys")
                    .and_then(|n| match n {
                        Expr::Num(n) => n.parse::<usize>().ok(),
                        _ => None,
                    })
                    .unwrap_or(0);
                exprs.extend(call.args.iter().skip(2).take(count));
            }
            Keys::Mapping => {
                if let Some(m) = call.arg(0, "mapping").or_else(|| call.kwarg("streams")) {
                    let (mf, ms, m) = self.literal_of(file, scope, m);
                    let key = |k: &Expr| OpKey::new(self.p.eval_str(mf, ms, k), false);
                    let m = match m {
                        Expr::Comprehension(element) => element.as_ref(),
                        m => m,
                    };
                    return match m {
                        Expr::Dict(pairs) => pairs.iter().map(|(k, _)| key(k)).collect(),
                        _ => vec![OpKey::new(
                            StrValue::Dynamic {
                                reason: "the keys of a mapping built at run time".into(),
                            },
                            false,
                        )],
                    };
                }
            }
            Keys::Match => {
                let pat = match name {
                    "keys" => call.arg(0, "pattern"),
                    "scan" => call.arg(1, "match"),
                    _ => call.arg(0, "match"),
                };
                let key = match pat {
                    Some(p) => self.p.eval_str(file, scope, p),
                    None => StrValue::known("*"),
                };
                return vec![OpKey::new(key, true)];
            }
        }
        let mut out = Vec::new();
        for e in exprs {
            // A name set on several branches (or looping over a literal
            // list) names several keys: one each.
            let mut from_constructor = false;
            if let Some(alts) = self
                .p
                .alternatives(file, scope, e)
                .or_else(|| self.returned_keys(file, scope, e))
                .or_else(|| {
                    // `self.name`, set from a constructor argument, as the
                    // whole key or as part of it.
                    from_constructor = true;
                    match self.p.eval_str(file, scope, e) {
                        StrValue::Dynamic { .. } => self.self_param_values(file, scope, e),
                        StrValue::Pattern { .. } => self.self_param_parts(file, scope, e),
                        StrValue::Known { .. } => None,
                    }
                })
            {
                for (af, asc, alt) in alts {
                    // Built inside a function: only what reaches that
                    // function uses this key. Built at module level (a
                    // shared instance): everything may.
                    let in_function = from_constructor
                        && self
                            .p
                            .scope(af, asc)
                            .is_some_and(|sc| sc.kind == ScopeKind::Function);
                    let (key, glob) = self.key_value(af, asc, &alt, builder);
                    let key = match (key, &alt) {
                        (StrValue::Dynamic { .. }, Expr::Other(what)) => StrValue::Dynamic {
                            reason: what.to_string(),
                        },
                        (k, _) => k,
                    };
                    let mut k = OpKey::new(key, glob || glob_command);
                    if in_function {
                        k.given_in = Some(self.p.def_ref(af, asc));
                        k.given_in_file = Some(self.p.files[af].path.clone());
                    }
                    if !out.contains(&k) {
                        out.push(k);
                    }
                }
                continue;
            }
            let (key, glob) = self.key_value(file, scope, e, builder);
            out.push(OpKey::new(key, glob || glob_command));
        }
        // `subscribe(**{"channel": handler})` or `subscribe(channel=handler)`.
        if name.ends_with("subscribe") {
            for kw in &call.kwargs {
                match (&kw.name, &kw.value) {
                    (Some(n), _) => out.push(OpKey::new(StrValue::known(n.clone()), glob_command)),
                    (None, Expr::Dict(pairs)) => {
                        out.extend(pairs.iter().map(|(k, _)| {
                            OpKey::new(self.p.eval_str(file, scope, k), glob_command)
                        }))
                    }
                    (None, _) => {}
                }
            }
        }
        out
    }

    /// `m` or, when it names a local or module value, that value.
    fn literal_of<'e>(&self, file: usize, scope: u32, m: &'e Expr) -> (usize, u32, &'e Expr)
    where
        'p: 'e,
    {
        if let Expr::Name(_) = m
            && let Target::Value {
                file: f,
                scope: s,
                value,
                ..
            } = self.p.resolve(file, scope, m)
        {
            return (f, s, value);
        }
        (file, scope, m)
    }

    /// A key argument folded into a string, and whether it is a glob.
    /// Records the helper function that built it in `builder`.
    fn key_value(
        &self,
        file: usize,
        scope: u32,
        e: &Expr,
        builder: &mut Option<(usize, u32, u32, StrValue)>,
    ) -> (StrValue, bool) {
        match e {
            Expr::Starred(inner) => {
                return (
                    StrValue::Dynamic {
                        reason: format!("`*{}` is unpacked at run time", render_expr(inner)),
                    },
                    false,
                );
            }
            Expr::Name(n) => match self.p.resolve(file, scope, e) {
                Target::Unknown => {
                    if let Some(v) = self.scanned_key(file, scope, n) {
                        return (v, true);
                    }
                    if param_of(self.p, file, scope, n).is_some() {
                        return (
                            StrValue::Dynamic {
                                reason: format!("parameter `{n}`"),
                            },
                            false,
                        );
                    }
                }
                // `key = progress_key(jid)` then `r.get(key)`.
                Target::Value {
                    file: f,
                    scope: s,
                    value: Expr::Call(c),
                    ..
                } => return (self.call_key(f, s, c, builder), false),
                _ => {}
            },
            Expr::Call(c) => return (self.call_key(file, scope, c, builder), false),
            _ => {}
        }
        (self.p.eval_str(file, scope, e), false)
    }

    /// The keys a helper with several `return`s builds (`if x: return
    /// f"a:{x}"` ... `return "a:none"`): each return with the caller's
    /// literal arguments in place of its parameters, written in the
    /// helper's scope. `None` for anything else.
    fn returned_keys(&self, file: usize, scope: u32, e: &Expr) -> Option<Vec<(usize, u32, Expr)>> {
        let c = match e {
            Expr::Call(c) => c.as_ref(),
            Expr::Name(_) => match self.p.resolve(file, scope, e) {
                Target::Value {
                    value: Expr::Call(c),
                    ..
                } => c.as_ref(),
                _ => return None,
            },
            _ => return None,
        };
        let (hf, hs, skip) = called_function(self.p, file, scope, &c.func)?;
        let sc = self.p.scope(hf, hs)?;
        let returns: Vec<&Expr> = sc
            .stmts
            .iter()
            .filter_map(|st| match st {
                Stmt::Return { value: Some(v), .. } => Some(v),
                _ => None,
            })
            .collect();
        if returns.len() < 2 {
            return None;
        }
        let subst = self.literal_arguments(file, scope, c, (hf, hs), skip);
        Some(
            returns
                .into_iter()
                .map(|r| (hf, hs, substitute(r, &subst)))
                .collect(),
        )
    }

    /// The helper's parameters the call gives a literal (or pattern)
    /// value, as expressions that fold to it in any scope.
    fn literal_arguments(
        &self,
        file: usize,
        scope: u32,
        c: &Call,
        (hf, hs): (usize, u32),
        skip: usize,
    ) -> HashMap<&'p str, Expr> {
        let mut subst = HashMap::new();
        let Some(sc) = self.p.scope(hf, hs) else {
            return subst;
        };
        for (i, p) in sc.params.iter().skip(skip).enumerate() {
            let arg = c
                .args
                .get(i)
                .filter(|a| !matches!(a, Expr::Starred(_)))
                .or_else(|| c.kwarg(&p.name));
            let value = match arg {
                Some(a) => self.p.eval_str(file, scope, a),
                None => match &p.default {
                    Some(d @ (Expr::Str(_) | Expr::Num(_))) => {
                        self.p.eval_str(hf, sc.parent.unwrap_or(0), d)
                    }
                    _ => continue,
                },
            };
            if let Some(e) = literal_expr(&value) {
                subst.insert(p.name.as_str(), e);
            }
        }
        subst
    }

    /// A key built by a call: for a first-party helper with one `return`,
    /// that return folded with the caller's literal arguments in place of
    /// its parameters (the plain fold would leave every parameter a hole).
    fn call_key(
        &self,
        file: usize,
        scope: u32,
        c: &Call,
        builder: &mut Option<(usize, u32, u32, StrValue)>,
    ) -> StrValue {
        let Some((hf, hs, skip)) = called_function(self.p, file, scope, &c.func) else {
            return self
                .p
                .eval_str(file, scope, &Expr::Call(std::sync::Arc::new(c.clone())));
        };
        let Some(sc) = self.p.scope(hf, hs) else {
            return StrValue::Dynamic {
                reason: "helper not found".into(),
            };
        };
        let returns: Vec<(u32, &Expr)> = sc
            .stmts
            .iter()
            .filter_map(|st| match st {
                Stmt::Return {
                    line,
                    value: Some(v),
                    ..
                } => Some((*line, v)),
                _ => None,
            })
            .collect();
        let [(ret_line, ret)] = returns.as_slice() else {
            return self
                .p
                .eval_str(file, scope, &Expr::Call(std::sync::Arc::new(c.clone())));
        };
        if builder.is_none() {
            *builder = Some((hf, hs, *ret_line, self.p.eval_str(hf, hs, ret)));
        }
        let subst = self.literal_arguments(file, scope, c, (hf, hs), skip);
        let body = substitute(ret, &subst);
        self.p.eval_str(hf, hs, &body)
    }

    /// `for key in r.scan_iter("analysis:*")`: the loop variable is any key
    /// matching the glob.
    fn scanned_key(&self, file: usize, scope: u32, name: &str) -> Option<StrValue> {
        let sc = self.p.scope(file, scope)?;
        for st in &sc.stmts {
            let Stmt::For {
                line, target, iter, ..
            } = st
            else {
                continue;
            };
            if !matches!(&**target, Expr::Name(n) if n == name) {
                continue;
            }
            let (f, s, iter) = self.literal_of(file, scope, iter);
            let iter = match iter {
                Expr::Await(e) => e,
                e => e,
            };
            let Expr::Call(c) = iter else { continue };
            let Expr::Attr(recv, m) = &c.func else {
                continue;
            };
            if !matches!(command(m), Some((_, Keys::Match, _))) {
                continue;
            }
            if self
                .handle(f, s, recv, 0)
                .is_none_or(|h| h.kind != HKind::Client)
            {
                continue;
            }
            let mut b = None;
            let keys = self.op_keys(f, s, c, m, Keys::Match, &mut b);
            let text = keys.first()?.key.text()?.to_string();
            return Some(StrValue::Known {
                value: text,
                note: Some(format!("each key `{m}` yields on line {line}")),
            });
        }
        None
    }
}

/// `"a.b"` as the name chain it spells, for string annotations.
fn dotted_expr(s: &str) -> Option<Expr> {
    let mut parts = s.trim().split('.');
    let first = parts.next()?;
    let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !ok(first) {
        return None;
    }
    let mut e = Expr::Name(first.into());
    for p in parts {
        if !ok(p) {
            return None;
        }
        e = Expr::Attr(Box::new(e), p.into());
    }
    Some(e)
}

/// The first key argument of a command that names one first.
fn first_key<'c>(call: &'c Call, name: &str) -> Option<&'c Expr> {
    if name.ends_with("publish") {
        call.arg(0, "channel")
    } else {
        call.arg(0, "name").or_else(|| call.kwarg("key"))
    }
}

/// A command that runs a server-side script that may write its keys.
fn is_script(name: &str) -> bool {
    command(name).is_some_and(|(access, keys, _)| keys == Keys::Script && access == Access::Write)
}

/// The one key expression of a command that names a single key: the first
/// argument of `get`/`set`/..., the only argument of `delete(key)`, the
/// only key of `eval(script, 1, key, ...)`. `None` for several keys.
fn single_key<'c>(call: &'c Call, name: &str, keys: Keys) -> Option<&'c Expr> {
    match keys {
        Keys::First => first_key(call, name),
        Keys::All if call.args.len() == 1 && call.kwargs.is_empty() => call.args.first(),
        Keys::Script => match call.arg(1, "numkeys") {
            Some(Expr::Num(n)) if n.as_str() == "1" => call.args.get(2),
            _ => None,
        },
        _ => None,
    }
}

/// Builds the key index from the operations.
fn key_index(ops: &[RedisOp]) -> Vec<RedisKey> {
    let mut index: BTreeMap<(String, KeyKind, bool), RedisKey> = BTreeMap::new();
    for op in ops {
        let kind = match op.access {
            Access::Publish | Access::Subscribe => KeyKind::Channel,
            Access::Read | Access::Write | Access::Consume => KeyKind::Key,
            Access::Other => continue,
        };
        for k in &op.keys {
            let Some(text) = k.key.text() else { continue };
            let entry = index
                .entry((text.to_string(), kind, k.glob))
                .or_insert_with(|| RedisKey {
                    key: text.to_string(),
                    kind,
                    glob: k.glob,
                    writers: Vec::new(),
                    readers: Vec::new(),
                    publishers: Vec::new(),
                    subscribers: Vec::new(),
                    matches: Vec::new(),
                });
            let u = KeyUse {
                file: op.file.clone(),
                line: op.line,
                function: op.function.clone(),
                command: op.command.clone(),
                given_in: k.given_in.clone(),
                given_in_file: k.given_in_file.clone(),
            };
            match op.access {
                Access::Read | Access::Consume => entry.readers.push(u),
                // A script may read its keys as well as write them (a lock
                // released only by its holder reads the token first).
                Access::Write if is_script(&op.command) => {
                    entry.readers.push(u.clone());
                    entry.writers.push(u);
                }
                Access::Write => entry.writers.push(u),
                Access::Publish => entry.publishers.push(u),
                Access::Subscribe => entry.subscribers.push(u),
                Access::Other => {}
            }
        }
    }
    let plain: Vec<(String, KeyKind)> = index
        .values()
        .filter(|k| !k.glob)
        .map(|k| (k.key.clone(), k.kind))
        .collect();
    let mut out: Vec<RedisKey> = index.into_values().collect();
    for k in &mut out {
        for list in [
            &mut k.writers,
            &mut k.readers,
            &mut k.publishers,
            &mut k.subscribers,
        ] {
            list.sort();
            list.dedup();
        }
        if k.glob {
            k.matches = plain
                .iter()
                .filter(|(text, kind)| *kind == k.kind && glob_match(&k.key, text))
                .map(|(text, _)| text.clone())
                .collect();
        }
    }
    out
}

/// `listen()` and `get_message()` on a pub/sub object receive what it
/// subscribed to, often elsewhere (a module-level `ps.subscribe(...)`, a
/// loop in a background function): they become subscriptions to the same
/// channels, so the function that receives is the one tied to the
/// publishers. Pub/sub objects are told apart by file and the line of
/// their `pubsub()` call.
fn receive_subscribed(ops: &mut [RedisOp]) {
    let mut channels: HashMap<(String, u32), Vec<OpKey>> = HashMap::new();
    for op in ops.iter() {
        if op.access == Access::Subscribe
            && let Some(line) = op.pubsub_line
        {
            let list = channels.entry((op.file.clone(), line)).or_default();
            for k in &op.keys {
                if !list.contains(k) {
                    list.push(k.clone());
                }
            }
        }
    }
    for op in ops.iter_mut() {
        if matches!(op.command.as_str(), "listen" | "get_message")
            && let Some(line) = op.pubsub_line
            && let Some(keys) = channels.get(&(op.file.clone(), line))
        {
            op.access = Access::Subscribe;
            op.keys = keys.clone();
        }
    }
}

/// Redis glob matching: `*` any run (holes `{}` included), `?` one
/// character, `[...]` a class, `\` escapes.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with one backtrack point for the last `*`, which
    // is linear enough for key-sized strings and never recurses.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => match class_match(&p, pi, t[ti]) {
                    Some((true, next)) => {
                        pi = next;
                        ti += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    // An unclosed `[` is a plain character.
                    None if t[ti] == '[' => {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                    None => {}
                },
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `c` is in the class starting at `p[start] == '['`, and the
/// index after the class; `None` when the class is not closed.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut hit = false;
    while i < p.len() && p[i] != ']' {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                hit = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                hit = true;
            }
            i += 1;
        }
    }
    (i < p.len()).then_some((hit != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_the_way_redis_matches_keys() {
        assert!(glob_match("analysis:*", "analysis:{}:progress"));
        assert!(glob_match("analysis:*:progress", "analysis:{}:progress"));
        assert!(!glob_match("analysis:*:progress", "analysis:{}:summary"));
        assert!(glob_match("job:?", "job:7"));
        assert!(!glob_match("job:?", "job:77"));
        assert!(glob_match("h[ae]llo", "hallo"));
        assert!(!glob_match("h[^e]llo", "hello"));
        assert!(glob_match("h[a-c]llo", "hbllo"));
        assert!(glob_match("literal\\*", "literal*"));
        assert!(!glob_match("literal\\*", "literally"));
        assert!(glob_match("open[", "open["));
    }
}
