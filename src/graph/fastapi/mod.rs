//! FastAPI and Starlette applications, read without importing them.
//!
//! [`analyze`] finds every application and router object
//! ([`objects`]), walks each application from its constructor down through
//! `include_router` and `mount` chains to compose every route's full path
//! ([`routes`]), builds each route's dependency tree across modules
//! ([`deps`]), and reads the lifecycle: lifespan, event handlers,
//! middleware and exception handlers ([`lifecycle`]). What depends on run
//! time (a prefix read from the environment, a router built in a loop over
//! a computed list) is kept and marked, never guessed.

mod deps;
mod lifecycle;
pub mod models;
mod objects;
mod routes;
pub mod sockets;

use schemars::JsonSchema;
use serde::Serialize;

use crate::graph::Program;

pub use models::{Model, SettingsClass};
pub use sockets::{ConnectionManager, SocketBehaviour};

/// Everything known about the web layer of a program.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct WebMap {
    pub apps: Vec<App>,
    /// Every route of every application, in the order the application
    /// matches them; routers that no application includes come last.
    pub routes: Vec<Route>,
    /// Every dependency reached from a route, with the routes that use it.
    pub dependencies: Vec<Dependency>,
    pub models: Vec<Model>,
    pub settings: Vec<SettingsClass>,
    pub connection_managers: Vec<ConnectionManager>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    Fastapi,
    Starlette,
}

/// An application object: `FastAPI(...)` or `Starlette(...)`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct App {
    /// `module:name`, or `module:factory.name` when built inside a function.
    pub object: String,
    pub kind: AppKind,
    pub file: String,
    pub line: u32,
    /// The function that builds and returns it, as `module:qualname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factory: Option<String>,
    /// Module-level names bound to the factory's result (`app =
    /// create_app()`), as `module:name`: what a server such as uvicorn
    /// loads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub served_as: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Where another application mounts this one (`file:line`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounted_in: Vec<String>,
    /// Routers included directly, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<Inclusion>,
    pub route_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifespan: Option<Lifespan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventHandler>,
    /// In declaration order; `request_order` says the order a request
    /// passes through them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub middleware: Vec<Middleware>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exception_handlers: Vec<ExceptionHandler>,
    /// Application-level `dependencies=[...]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyUse>,
}

/// `include_router(router, prefix=...)` or `mount(path, app)`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Inclusion {
    /// The router or application included, as `module:name`.
    pub target: String,
    pub prefix: String,
    /// `include_router` or `mount`.
    pub method: String,
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    Http,
    Websocket,
    Mount,
}

/// One route, with its full path.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Route {
    /// HTTP methods, upper-case; empty for websockets and mounts.
    pub methods: Vec<String>,
    /// The full path: every prefix from the application down, composed.
    /// A part only known at run time reads `{?}`; `dynamic` says why.
    pub path: String,
    pub kind: RouteKind,
    /// The application it belongs to (`module:name`); absent for a router
    /// that no application includes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The router it is declared on (`module:name`).
    pub router: String,
    /// The endpoint function as `module:qualname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    /// Where the endpoint is defined (`file:line`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler_at: Option<String>,
    /// Where the route is declared: the decorator or registration call.
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_async: bool,
    /// `name=`, else the endpoint's function name (FastAPI's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_model: Option<String>,
    /// The first-party classes the response is declared with
    /// (`response_model=`, else the return annotation), `module:qualname`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_models: Vec<String>,
    /// Parameters read from the request: path, query, header, cookie,
    /// body, form and file parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Dependencies declared on the route and everything above it (router,
    /// inclusion, application), in the order FastAPI runs them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyUse>,
    /// Every dependency in the route's tree, transitively, by reference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub all_dependencies: Vec<String>,
    /// The security schemes found anywhere in the dependency tree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<Auth>,
    /// FastAPI routes get dependency injection; plain Starlette routes
    /// (`add_route`, `Route(...)`) do not.
    pub injection: bool,
    /// Declared under an `if`, or included by a call under one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
    /// The `include_router`/`mount` calls from the application down
    /// (`file:line`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub included_via: Vec<String>,
    /// For a mount: what is mounted (`static files`, an application, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<String>,
    /// A mount that stands for an `include_router` whose router is not
    /// known statically: its routes are somewhere below `path`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unresolved_include: bool,
    /// What a websocket endpoint receives, sends and polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket: Option<SocketBehaviour>,
    /// Why parts of this route are not known statically.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dynamic: Vec<String>,
    /// Assumptions the path rests on, such as a prefix taken from the
    /// default of a settings field that the environment may override.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    Path,
    Query,
    Header,
    Cookie,
    Body,
    Form,
    File,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Parameter {
    pub name: String,
    pub source: ParamSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
    /// The Pydantic model, for a body parameter typed with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Where a dependency is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredOn {
    /// The application's `dependencies=[...]`.
    App,
    /// `include_router(..., dependencies=[...])`.
    Include,
    /// `APIRouter(dependencies=[...])`.
    Router,
    /// The route decorator's `dependencies=[...]`.
    Route,
    /// A parameter default or `Annotated` metadata.
    Parameter,
}

/// One `Depends(...)`/`Security(...)`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DependencyUse {
    /// The dependency: `module:qualname`, an external dotted path, or the
    /// source text when it cannot be resolved.
    pub target: String,
    pub declared_on: DeclaredOn,
    /// The parameter it fills, for parameter dependencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// `Security(..., scopes=[...])`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// `Depends(..., use_cache=False)`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    Function,
    /// A generator: setup runs before `yield`, teardown after the response.
    Generator,
    /// A class: FastAPI calls it with its `__init__` parameters.
    Class,
    /// An instance of a class with `__call__`.
    CallableInstance,
    /// A `fastapi.security` scheme instance.
    SecurityScheme,
    /// Defined outside the analysed code.
    External,
    /// Not resolvable statically; `reason` says why.
    Unresolved,
}

/// A dependency, once, with what it depends on and who uses it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Dependency {
    pub target: String,
    pub kind: DependencyKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_async: bool,
    /// What it hands to the parameter: the return annotation, or for a
    /// generator the yielded type or expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provides: Option<String>,
    /// For a generator: the calls before `yield` (setup) and after it
    /// (teardown, run once the response is sent).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub teardown: Vec<String>,
    /// For a security scheme: its class (`OAuth2PasswordBearer`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The status (401 or 403) of an `HTTPException` the dependency raises
    /// itself: an authentication or permission check written by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_with: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyUse>,
    /// Request parameters it reads itself (headers, query, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Routes whose tree contains it, as `METHOD path`.
    pub used_by: Vec<String>,
}

/// How a route is authenticated.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Auth {
    /// The scheme class: `OAuth2PasswordBearer`, `HTTPBearer`, ...
    pub scheme: String,
    /// The scheme instance, `module:name`.
    pub instance: String,
    /// Scopes required along the way (`Security(..., scopes=[...])`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// `FastAPI(lifespan=...)`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Lifespan {
    pub handler: String,
    pub file: String,
    pub line: u32,
    /// Calls before `yield`: startup.
    pub startup: Vec<String>,
    /// Calls after `yield`: shutdown.
    pub shutdown: Vec<String>,
    /// Attributes and items assigned before `yield`: what startup leaves
    /// for the application (`app.state.redis`, `ml_models["name"]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub startup_sets: Vec<String>,
    /// Attributes and items assigned after `yield`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shutdown_sets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventHandler {
    /// `startup` or `shutdown`.
    pub event: String,
    pub handler: String,
    /// `on_event`, `add_event_handler`, `on_startup` or `on_shutdown`.
    pub form: String,
    pub file: String,
    pub line: u32,
    /// Declared on a router rather than on the application itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MiddlewareKind {
    /// A `BaseHTTPMiddleware` subclass (`dispatch(request, call_next)`).
    BaseHttp,
    /// A plain ASGI class (`__call__(scope, receive, send)`).
    Asgi,
    /// A function registered with `@app.middleware("http")`.
    Function,
    /// A class from a library (`CORSMiddleware`, ...).
    External,
    Unresolved,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Middleware {
    /// The class or function, as `module:qualname` or a dotted path.
    pub target: String,
    pub kind: MiddlewareKind,
    /// Keyword options, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `add_middleware`, `middleware_decorator` or `constructor`.
    pub form: String,
    pub file: String,
    pub line: u32,
    /// 1 is the outermost: the first to see a request, the last to see its
    /// response. The last one added is outermost.
    pub request_order: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExceptionHandler {
    /// The exception class or status code it handles.
    pub exception: String,
    pub handler: String,
    pub file: String,
    pub line: u32,
}

/// Maps the web layer of `program`.
pub fn analyze(program: &Program) -> WebMap {
    let objects = objects::Objects::find(program);
    let mut map = WebMap {
        models: models::pydantic_models(program),
        settings: models::settings_classes(program),
        connection_managers: sockets::connection_managers(program),
        ..WebMap::default()
    };
    if objects.objects.is_empty() {
        return map;
    }
    let mut deps = deps::Resolver::new(program, &objects);
    let walked = routes::walk(program, &objects, &mut deps);
    map.apps = walked
        .apps
        .iter()
        .map(|a| lifecycle::app(program, &objects, &mut deps, a))
        .collect();
    map.routes = walked.routes;
    map.dependencies = deps.finish(&map.routes, &map.apps);
    models::record_uses(&mut map.models, &map.routes);
    map
}

/// `GET /items/{id}`, `GET,HEAD /report`, `WS /ws/feed` or `MOUNT /static`:
/// how a route is named where it is one entry among routes and tasks.
pub fn route_label(r: &Route) -> String {
    let method = match r.kind {
        RouteKind::Websocket => "WS".to_string(),
        RouteKind::Mount => "MOUNT".to_string(),
        RouteKind::Http => r.methods.join(","),
    };
    format!("{method} {}", r.path)
}
