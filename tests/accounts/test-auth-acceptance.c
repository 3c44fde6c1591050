/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <signal.h>

#include "lctl-dbus-generated.h"
#include "lctl-mock-oauth.h"
#include "lctl-test-utils.h"

/* Issue 5's acceptance across the real processes: on a private session bus
 * with a real gnome-keyring-daemon, the built `litellmctld` is activated
 * from its service file and the built `litellmctl` runs as a user would
 * run it. The mock OAuth servers and an OpenAI-compatible upstream live in
 * this process, so they count what the daemon does: refresh calls, and the
 * token and headers every proxied request carried upstream. */

#define MASTER_KEY     "sk-test-accounts-master"
#define KEYRING_SECRET "litellmctl-test"
#define KIMI_DEVICE_ID "0123456789abcdef0123456789abcdef"
#define FALLBACK_TEXT  "Served by the offline fallback."
#define UPSTREAM_TEXT  "Hello from the OAuth upstream."
#define CLIENT_TOOL    "repo.search files"
#define UPSTREAM_TOOL  "repo_search_files"
#define BUDGET_MS      20000
#define N_CONCURRENT   20

/* -------------------------------------------------------------------- */
/* The upstream: OpenAI Chat Completions, as Qwen Portal and Kimi Code
 * speak it                                                              */

typedef struct
{
  char               *path;
  char               *authorization;
  SoupMessageHeaders *headers;
  JsonObject         *body;
} UpstreamRequest;

typedef struct
{
  SoupServer *server;
  char       *base;
  GPtrArray  *requests; /* (element-type UpstreamRequest) */
  GHashTable *revoked;  /* access tokens answered with 401 */
} Upstream;

static void
upstream_request_free (UpstreamRequest *request)
{
  g_free (request->path);
  g_free (request->authorization);
  soup_message_headers_unref (request->headers);
  g_clear_pointer (&request->body, json_object_unref);
  g_free (request);
}

static void
respond (SoupServerMessage *msg,
         unsigned           status,
         JsonNode          *node)
{
  g_autofree char *text = json_to_string (node, FALSE);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, text, strlen (text));
}

static JsonNode *
parse_json (const char *text,
            gssize      length)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, length, &error))
    g_error ("not JSON (%s): %.*s", error->message, (int) (length < 0 ? (gssize) strlen (text) : length), text);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonNode) root = parse_json (text, -1);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* A chat.completion: a tool call to the request's first tool under the
 * name the upstream was given, else a text. */
static JsonNode *
completion_for (JsonObject *request)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  JsonArray  *tools = json_object_has_member (request, "tools") ? json_object_get_array_member (request, "tools") : NULL;
  const char *tool = NULL;

  if (tools != NULL && json_array_get_length (tools) > 0)
    tool = json_object_get_string_member (json_object_get_object_member (json_array_get_object_element (tools, 0),
                                                                         "function"),
                                          "name");

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, "chatcmpl-accounts-1");
  json_builder_set_member_name (builder, "object");
  json_builder_add_string_value (builder, "chat.completion");
  json_builder_set_member_name (builder, "created");
  json_builder_add_int_value (builder, g_get_real_time () / G_USEC_PER_SEC);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, json_object_get_string_member (request, "model"));
  json_builder_set_member_name (builder, "choices");
  json_builder_begin_array (builder);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "index");
  json_builder_add_int_value (builder, 0);
  json_builder_set_member_name (builder, "message");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "role");
  json_builder_add_string_value (builder, "assistant");
  json_builder_set_member_name (builder, "content");
  if (tool != NULL)
    {
      json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "tool_calls");
      json_builder_begin_array (builder);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, "call_accounts_1");
      json_builder_set_member_name (builder, "type");
      json_builder_add_string_value (builder, "function");
      json_builder_set_member_name (builder, "function");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, tool);
      json_builder_set_member_name (builder, "arguments");
      json_builder_add_string_value (builder, "{\"query\":\"token refresh\"}");
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      json_builder_end_array (builder);
    }
  else
    json_builder_add_string_value (builder, UPSTREAM_TEXT);
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "finish_reason");
  json_builder_add_string_value (builder, tool != NULL ? "tool_calls" : "stop");
  json_builder_end_object (builder);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "usage");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "prompt_tokens");
  json_builder_add_int_value (builder, 12);
  json_builder_set_member_name (builder, "completion_tokens");
  json_builder_add_int_value (builder, 7);
  json_builder_set_member_name (builder, "total_tokens");
  json_builder_add_int_value (builder, 19);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
upstream_handler (SoupServer        *server,
                  SoupServerMessage *msg,
                  const char        *path,
                  GHashTable        *query,
                  gpointer           user_data)
{
  Upstream           *upstream = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  const char      *authorization = soup_message_headers_get_one (headers, "Authorization");
  UpstreamRequest *request;
  g_autoptr (JsonNode) node = NULL;

  if (!g_str_equal (soup_server_message_get_method (msg), "POST") || !g_str_has_suffix (path, "/chat/completions"))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  request = g_new0 (UpstreamRequest, 1);
  request->path = g_strdup (path);
  request->authorization = g_strdup (authorization);
  request->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  {
    SoupMessageHeadersIter iter;
    const char            *name, *value;

    soup_message_headers_iter_init (&iter, headers);
    while (soup_message_headers_iter_next (&iter, &name, &value))
      soup_message_headers_append (request->headers, name, value);
  }
  node = parse_json (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  request->body = json_object_ref (json_node_get_object (node));
  g_ptr_array_add (upstream->requests, request);

  if (authorization == NULL || !g_str_has_prefix (authorization, "Bearer ") || g_hash_table_contains (upstream->revoked, authorization + strlen ("Bearer ")))
    {
      g_autoptr (JsonNode) error = parse_json ("{\"error\":{\"message\":\"Invalid access token\","
                                               "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
                                               -1);

      respond (msg, SOUP_STATUS_UNAUTHORIZED, error);
      return;
    }
  /* The tests' clients do not stream; a streamed request here would be a
   * change in what the proxy asks for. */
  if (json_object_get_boolean_member_with_default (request->body, "stream", FALSE))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      return;
    }
  {
    g_autoptr (JsonNode) completion = completion_for (request->body);

    respond (msg, SOUP_STATUS_OK, completion);
  }
}

static Upstream *
upstream_new (void)
{
  Upstream *upstream = g_new0 (Upstream, 1);

  upstream->server = lctl_test_server_new (&upstream->base);
  upstream->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) upstream_request_free);
  upstream->revoked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  soup_server_add_handler (upstream->server, NULL, upstream_handler, upstream, NULL);
  return upstream;
}

static void
upstream_free (Upstream *upstream)
{
  soup_server_disconnect (upstream->server);
  g_object_unref (upstream->server);
  g_free (upstream->base);
  g_ptr_array_unref (upstream->requests);
  g_hash_table_unref (upstream->revoked);
  g_free (upstream);
}

/* -------------------------------------------------------------------- */
/* A "machine": HOME and XDG dirs, a session bus, a keyring, the daemon   */

static const char *test_tmpdir;
static unsigned    fixture_count;

typedef struct
{
  LctlMockOAuth   *oauth;
  Upstream        *upstream;
  char            *root;
  char            *machine;
  GTestDBus       *bus;
  GSubprocess     *keyring;
  GDBusConnection *connection;
  LctlDBusManager *manager;
  char            *address;
  SoupSession     *session;
} Fixture;

static void
iterate_until (const gboolean *flag,
               unsigned        timeout_ms)
{
  lctl_test_wait_for (flag, timeout_ms);
}

static const char config_template[] =
    "model_list:\n"
    "  - model_name: qwen-coder\n"
    "    litellm_params:\n"
    "      model: qwen_portal/qwen3-coder-plus\n"
    "      timeout: 30\n"
    "  - model_name: kimi-coder\n"
    "    litellm_params:\n"
    "      model: kimi_code/kimi-for-coding\n"
    "      timeout: 30\n"
    "  - model_name: offline-fallback\n"
    "    litellm_params:\n"
    "      model: openai/offline\n"
    "      mock_response: " FALLBACK_TEXT "\n"
    "router_settings:\n"
    "  num_retries: 0\n"
    "  retry_after: 0\n"
    "  allowed_fails: 100\n"
    "  fallbacks:\n"
    "    - qwen-coder: [offline-fallback]\n"
    "litellm_settings:\n"
    "  drop_params: true\n"
    "general_settings:\n"
    "  master_key: os.environ/LITELLM_MASTER_KEY\n";

/* Fresh HOME and XDG directories: a new machine as far as litellmctl and
 * the keyring can tell. */
static void
machine_dirs (Fixture    *fixture,
              const char *name)
{
  static const char *const dirs[][2] = {
    { "HOME", "home" },
    { "XDG_CONFIG_HOME", "config" },
    { "XDG_DATA_HOME", "data" },
    { "XDG_CACHE_HOME", "cache" },
    { "XDG_STATE_HOME", "state" },
    { "XDG_RUNTIME_DIR", "runtime" },
  };

  g_free (fixture->machine);
  fixture->machine = g_build_filename (fixture->root, name, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (fixture->machine, dirs[i][1], NULL);

      g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
      g_setenv (dirs[i][0], path, TRUE);
    }
}

/* Sanitizer reports of the daemon and the CLI (built with ASan) go to
 * files, so that a leak or an error in another process fails this test. */
static void
sanitizer_logs_to (const char *dir)
{
  static const char *const variables[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };

  for (gsize i = 0; i < G_N_ELEMENTS (variables); i++)
    {
      const char      *old = g_getenv (variables[i]);
      g_autofree char *base = g_build_filename (dir, "sanitizer", NULL);
      g_autofree char *value = NULL;

      if (old != NULL && strstr (old, "log_path=") != NULL)
        continue;
      value = g_strdup_printf ("%s%slog_path=%s", old != NULL ? old : "", old != NULL && *old != '\0' ? ":" : "", base);
      g_setenv (variables[i], value, TRUE);
    }
}

static void
assert_no_sanitizer_reports (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;

      if (!g_str_has_prefix (name, "sanitizer"))
        continue;
      g_file_get_contents (path, &contents, NULL, NULL);
      g_error ("%s:\n%s", path, contents != NULL ? contents : "");
    }
}

static void
start_keyring (Fixture *fixture)
{
  const char *argv[] = { "gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets", NULL };
  g_autoptr (GError) error = NULL;
  GOutputStream *in;
  gint64         deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  fixture->keyring = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);
  g_assert_no_error (error);
  /* A password on stdin creates and unlocks the login keyring, the default
   * collection (without one, a store would ask a GUI prompter). */
  in = g_subprocess_get_stdin_pipe (fixture->keyring);
  g_output_stream_write_all (in, KEYRING_SECRET, strlen (KEYRING_SECRET), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (in, NULL, &error);
  g_assert_no_error (error);

  for (;;)
    {
      g_autoptr (GVariant) reply = g_dbus_connection_call_sync (fixture->connection, "org.freedesktop.DBus",
                                                                "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                                "NameHasOwner",
                                                                g_variant_new ("(s)", "org.freedesktop.secrets"),
                                                                G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                                                NULL, &error);
      gboolean has_owner = FALSE;

      g_assert_no_error (error);
      g_variant_get (reply, "(b)", &has_owner);
      if (has_owner)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }
}

/* A session bus whose service directory activates the built daemon, and
 * an unlocked keyring on it. The daemon inherits the environment as it is
 * now; it starts at the first call. */
static void
machine_up (Fixture    *fixture,
            const char *name)
{
  g_autofree char *config_path = NULL;
  g_autoptr (GError) error = NULL;

  machine_dirs (fixture, name);
  config_path = g_build_filename (g_get_user_config_dir (), "litellmctl", "config.yaml", NULL);
  lctl_test_write_file (config_path, config_template);
  g_setenv ("LITELLMCTL_CONFIG", config_path, TRUE);
  sanitizer_logs_to (fixture->machine);

  fixture->bus = lctl_test_dbus_up ();
  fixture->connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  start_keyring (fixture);
}

static void
daemon_up (Fixture *fixture)
{
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;
  const char *address = NULL;

  if (fixture->manager != NULL)
    return;
  fixture->manager = lctl_dbus_manager_proxy_new_sync (fixture->connection, G_DBUS_PROXY_FLAGS_NONE, APP_ID,
                                                       OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  /* Activates the daemon (or finds the one the CLI activated). */
  g_assert_true (lctl_dbus_manager_call_get_status_sync (fixture->manager, &status, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "address", "&s", &address));
  g_assert_true (g_str_has_prefix (address, "http://127.0.0.1:"));
  g_free (fixture->address);
  fixture->address = g_strdup (address);
}

static guint32
daemon_pid (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (fixture->connection, "org.freedesktop.DBus",
                                                            "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                                            "GetConnectionUnixProcessID",
                                                            g_variant_new ("(s)", APP_ID), G_VARIANT_TYPE ("(u)"),
                                                            G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  guint32 pid = 0;

  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  return pid;
}

/* Quits the daemon (waiting for the process to be gone, so that its exit
 * time leak check has written its report), stops the keyring and the bus. */
static void
machine_down (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  if (fixture->bus == NULL)
    return;
  daemon_up (fixture);
  {
    guint32 pid = daemon_pid (fixture);
    gint64  deadline;

    g_assert_true (lctl_dbus_manager_call_quit_sync (fixture->manager, NULL, &error));
    g_assert_no_error (error);
    deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    while (kill ((pid_t) pid, 0) == 0)
      {
        g_autofree char *stat_path = g_strdup_printf ("/proc/%u/stat", pid);
        g_autofree char *stat = NULL;

        /* Exited, not yet reaped by the bus. */
        if (g_file_get_contents (stat_path, &stat, NULL, NULL) && strstr (stat, ") Z ") != NULL)
          break;
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
        g_usleep (10000);
      }
  }
  g_clear_object (&fixture->manager);

  g_subprocess_send_signal (fixture->keyring, SIGTERM);
  g_subprocess_wait (fixture->keyring, NULL, NULL);
  g_clear_object (&fixture->keyring);

  g_clear_object (&fixture->connection);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);
  g_clear_pointer (&fixture->address, g_free);
  assert_no_sanitizer_reports (fixture->machine);
}

static void
set_closed_base (const char *variable,
                 const char *path)
{
  g_autofree char *base = g_strdup_printf ("http://127.0.0.1:%u%s", lctl_test_free_port (), path);

  g_setenv (variable, base, TRUE);
}

static void
fixture_setup (Fixture      *fixture,
               gconstpointer data)
{
  g_autofree char *qwen_base = NULL;
  g_autofree char *kimi_base = NULL;
  g_autofree char *cli_dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  /* Under the test's own temporary directory, removed at exit: the
   * keyrings there hold (test) tokens. */
  fixture->root = g_strdup_printf ("%s/fixture-%u", test_tmpdir, ++fixture_count);
  fixture->oauth = lctl_mock_oauth_new ();
  fixture->upstream = upstream_new ();

  /* Every OAuth host is the mock, every API host the upstream or a port
   * nobody listens on: nothing reaches the internet. */
  lctl_mock_oauth_setenv (fixture->oauth);
  qwen_base = g_strconcat (fixture->upstream->base, "/v1", NULL);
  kimi_base = g_strconcat (fixture->upstream->base, "/coding/v1", NULL);
  g_setenv ("QWEN_PORTAL_API_BASE", qwen_base, TRUE);
  g_setenv ("KIMI_CODE_API_BASE", kimi_base, TRUE);
  set_closed_base ("CHATGPT_API_BASE", "/backend-api/codex");
  g_setenv ("KIMI_CODE_DEVICE_ID", KIMI_DEVICE_ID, TRUE);
  g_setenv ("LITELLMCTL_PORT", "0", TRUE);
  g_setenv ("LITELLM_MASTER_KEY", MASTER_KEY, TRUE);
  g_unsetenv ("LITELLMCTL_TOKEN_STORE");
  g_unsetenv ("SECRET_BACKEND");
  /* No display: logins are headless, the URL is printed, no browser. */
  g_unsetenv ("DISPLAY");
  g_unsetenv ("WAYLAND_DISPLAY");
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  /* `litellmctl` for the export script's import step. */
  cli_dir = g_build_filename (g_getenv ("LITELLMCTL_BUILD_ROOT"), "src", "cli", NULL);
  if (!g_str_has_prefix (g_getenv ("PATH"), cli_dir))
    {
      path = g_strconcat (cli_dir, ":", g_getenv ("PATH"), NULL);
      g_setenv ("PATH", path, TRUE);
    }

  {
    g_autoptr (GProxyResolver) resolver = g_simple_proxy_resolver_new (NULL, NULL);

    /* Enough connections that concurrent requests are concurrent. */
    fixture->session = soup_session_new_with_options ("proxy-resolver", resolver, "timeout", 60,
                                                      "max-conns", 64, "max-conns-per-host", 64, NULL);
  }
}

static void
fixture_teardown (Fixture      *fixture,
                  gconstpointer data)
{
  machine_down (fixture);
  g_clear_object (&fixture->session);
  g_clear_pointer (&fixture->oauth, lctl_mock_oauth_free);
  g_clear_pointer (&fixture->upstream, upstream_free);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_free (fixture->machine);
  g_free (fixture->root);
}

/* -------------------------------------------------------------------- */
/* Processes                                                             */

typedef struct
{
  gboolean done;
  char    *out;
  char    *err;
  GError  *error;
} Communicated;

static void
communicated_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Communicated *c = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &c->out, &c->err, &c->error);
  c->done = TRUE;
}

/* Runs @argv with @input on stdin, iterating the main context meanwhile
 * (the mocks answering the daemon live in it). Returns the exit status;
 * stdout and stderr together in @output. */
static int
run_program (const char *const *argv,
             const char        *input,
             char             **output)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = g_subprocess_newv (argv,
                                                       G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                           G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                       &error);
  Communicated c = { 0 };

  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, input, NULL, communicated_cb, &c);
  iterate_until (&c.done, BUDGET_MS);
  g_assert_no_error (c.error);
  g_subprocess_wait (process, NULL, NULL);
  if (g_test_verbose ())
    g_printerr ("$ %s %s\n%s%s", argv[0], argv[1] != NULL ? argv[1] : "", c.out, c.err);
  if (output != NULL)
    *output = g_strconcat (c.out, c.err, NULL);
  g_free (c.out);
  g_free (c.err);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

static char *
cli_path (void)
{
  return g_build_filename (g_getenv ("LITELLMCTL_BUILD_ROOT"), "src", "cli", "litellmctl", NULL);
}

/* `litellmctl auth ARGS…` */
static int
run_auth (const char *input,
          char      **output,
          ...)
{
  g_autofree char *cli = cli_path ();
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list ap;

  g_ptr_array_add (argv, cli);
  g_ptr_array_add (argv, (gpointer) "auth");
  va_start (ap, output);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return run_program ((const char *const *) argv->pdata, input, output);
}

static char *
secret_tool_search (const char *provider)
{
  const char *argv[] = { "secret-tool", "search", "--all", "provider", provider, NULL };
  char       *output = NULL;

  run_program (argv, NULL, &output);
  return output;
}

/* Stores @record as the daemon would, before the daemon starts. */
static void
keyring_store (const char *provider,
               const char *label,
               const char *record)
{
  g_autofree char *full_label = g_strdup_printf ("litellmctl: %s (default)", label);
  const char      *argv[] = { "secret-tool", "store", "--label", full_label, "xdg:schema", "io.github.litellmctl.Token",
                              "provider", provider, "account", "default", NULL };

  g_assert_cmpint (run_program (argv, record, NULL), ==, 0);
}

static char *
token_record (const char *access_token,
              const char *refresh_token,
              gint64      expires_in)
{
  return g_strdup_printf ("{\"access_token\":\"%s\",\"refresh_token\":\"%s\",\"token_type\":\"Bearer\","
                          "\"expires_at\":%" G_GINT64_FORMAT ",\"resource_url\":\"portal.qwen.ai\"}",
                          access_token, refresh_token, g_get_real_time () / G_USEC_PER_SEC + expires_in);
}

/* -------------------------------------------------------------------- */
/* Client                                                                */

typedef struct
{
  gboolean            done;
  unsigned            status;
  SoupMessageHeaders *headers;
  char               *body;
  GError             *error;
} Response;

static void
response_free (Response *response)
{
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_free (response->body);
  g_clear_error (&response->error);
  g_free (response);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Response, response_free)

typedef struct
{
  Response    *response;
  SoupMessage *msg;
} Pending;

static void
sent_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Pending *pending = user_data;
  g_autoptr (GBytes) bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                                &pending->response->error);

  pending->response->status = soup_message_get_status (pending->msg);
  pending->response->headers = soup_message_headers_ref (soup_message_get_response_headers (pending->msg));
  if (bytes != NULL)
    pending->response->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  pending->response->done = TRUE;
  g_object_unref (pending->msg);
  g_free (pending);
}

/* Starts a POST to the daemon with the master key, as a coding agent would. */
static Response *
post_start (Fixture    *fixture,
            const char *path,
            const char *body)
{
  g_autofree char    *url = g_strconcat (fixture->address, path, NULL);
  Pending            *pending = g_new0 (Pending, 1);
  SoupMessageHeaders *headers;

  pending->response = g_new0 (Response, 1);
  pending->msg = soup_message_new ("POST", url);
  headers = soup_message_get_request_headers (pending->msg);
  soup_message_headers_append (headers, "Authorization", "Bearer " MASTER_KEY);
  soup_message_headers_append (headers, "anthropic-version", "2023-06-01");
  soup_message_set_request_body_from_bytes (pending->msg, "application/json", g_bytes_new (body, strlen (body)));
  soup_session_send_and_read_async (fixture->session, pending->msg, G_PRIORITY_DEFAULT, NULL, sent_cb, pending);
  return pending->response;
}

static void
post_wait (Response *response)
{
  iterate_until (&response->done, BUDGET_MS);
  g_assert_no_error (response->error);
  if (g_test_verbose ())
    g_printerr ("→ %u %s\n", response->status, response->body);
}

static Response *
post (Fixture    *fixture,
      const char *path,
      const char *body)
{
  Response *response = post_start (fixture, path, body);

  post_wait (response);
  return response;
}

static char *
chat_body (const char *model,
           gboolean    with_tool)
{
  return g_strdup_printf ("{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Find the refresh code.\"}]%s}",
                          model,
                          with_tool ? ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"" CLIENT_TOOL "\","
                                      "\"description\":\"Search the repository\",\"parameters\":{\"type\":\"object\","
                                      "\"properties\":{\"query\":{\"type\":\"string\"}},\"required\":[\"query\"]}}}]"
                                    : "");
}

static char *
messages_body (const char *model,
               gboolean    with_tool)
{
  return g_strdup_printf ("{\"model\":\"%s\",\"max_tokens\":256,"
                          "\"messages\":[{\"role\":\"user\",\"content\":\"Find the refresh code.\"}]%s}",
                          model,
                          with_tool ? ",\"tools\":[{\"name\":\"" CLIENT_TOOL "\",\"description\":\"Search the repository\","
                                      "\"input_schema\":{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"}},"
                                      "\"required\":[\"query\"]}}]"
                                    : "");
}

/* The answer's text, from either endpoint. */
static char *
answer_text (Response *response,
             gboolean  anthropic)
{
  g_autoptr (JsonObject) body = NULL;

  g_assert_cmpuint (response->status, ==, 200);
  body = parse_object (response->body);
  if (anthropic)
    {
      JsonObject *block = json_array_get_object_element (json_object_get_array_member (body, "content"), 0);

      g_assert_cmpstr (json_object_get_string_member (block, "type"), ==, "text");
      return g_strdup (json_object_get_string_member (block, "text"));
    }
  else
    {
      JsonObject *choice = json_array_get_object_element (json_object_get_array_member (body, "choices"), 0);

      return g_strdup (json_object_get_string_member (json_object_get_object_member (choice, "message"), "content"));
    }
}

static UpstreamRequest *
upstream_request (Fixture *fixture,
                  unsigned i)
{
  g_assert_cmpuint (i, <, fixture->upstream->requests->len);
  return g_ptr_array_index (fixture->upstream->requests, i);
}

/* -------------------------------------------------------------------- */
/* Tests                                                                 */

/* `litellmctl auth qwen` against the mock: device code, two polls. */
static void
login_qwen (Fixture *fixture)
{
  g_autofree char *output = NULL;
  int              token_hits = lctl_mock_oauth_hits (fixture->oauth, "/api/v1/oauth2/token");
  unsigned         polls = fixture->oauth->poll_times->len;

  lctl_mock_oauth_script_polls (fixture->oauth, "pending", "ok", NULL);
  g_assert_cmpint (run_auth (NULL, &output, "qwen", NULL), ==, 0);
  g_assert_nonnull (strstr (output, "Your code: ABCD-1234"));
  g_assert_nonnull (strstr (output, fixture->oauth->base));
  g_assert_nonnull (strstr (output, "✓ Logged in to Qwen Portal"));
  /* It finished because the mock approved: after the pending poll. */
  g_assert_cmpuint (fixture->oauth->poll_times->len, ==, polls + 2);
  g_assert_cmpint (lctl_mock_oauth_hits (fixture->oauth, "/api/v1/oauth2/token"), ==, token_hits + 2);
}

/* The status block of one provider in `auth status`. */
static char *
status_block (const char *status,
              const char *label)
{
  g_autofree char *heading = g_strconcat ("\n", label, "\n", NULL);
  const char      *start = strstr (status, heading);
  const char      *end;

  g_assert_nonnull (start);
  start += strlen (heading);
  end = strstr (start, "\n\n");
  return end != NULL ? g_strndup (start, end - start) : g_strdup (start);
}

static void
assert_logged_in_qwen (Fixture    *fixture,
                       const char *access_token)
{
  g_autofree char *status = NULL;
  g_autofree char *block = NULL;
  g_autofree char *search = secret_tool_search ("qwen_portal");
  g_autofree char *bearer = g_strconcat ("Bearer ", access_token, NULL);
  g_autofree char *chat = chat_body ("qwen-coder", FALSE);
  g_autofree char *messages = messages_body ("qwen-coder", FALSE);
  unsigned         before = fixture->upstream->requests->len;

  /* In the keyring, under the documented schema and attributes. */
  g_assert_nonnull (strstr (search, "attribute.provider = qwen_portal"));
  g_assert_nonnull (strstr (search, "schema = io.github.litellmctl.Token"));
  g_assert_nonnull (strstr (search, access_token));

  g_assert_cmpint (run_auth (NULL, &status, "status", NULL), ==, 0);
  block = status_block (status, "Qwen Portal");
  /* The mock's tokens live an hour. */
  g_assert_true (g_regex_match_simple ("Expires: +(0h 59m|1h 0m) remaining", block, 0, 0));
  g_assert_nonnull (strstr (block, "Backend:    keyring"));
  g_assert_null (strstr (block, "NEEDS LOGIN"));

  /* A proxied request, on both client endpoints, carries it as Bearer. */
  daemon_up (fixture);
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", chat);
    g_autofree char *text = answer_text (response, FALSE);

    g_assert_cmpstr (text, ==, UPSTREAM_TEXT);
  }
  {
    g_autoptr (Response) response = post (fixture, "/v1/messages", messages);
    g_autofree char *text = answer_text (response, TRUE);

    g_assert_cmpstr (text, ==, UPSTREAM_TEXT);
  }
  g_assert_cmpuint (fixture->upstream->requests->len, ==, before + 2);
  for (unsigned i = before; i < before + 2; i++)
    {
      UpstreamRequest *request = upstream_request (fixture, i);

      g_assert_cmpstr (request->path, ==, "/v1/chat/completions");
      g_assert_cmpstr (request->authorization, ==, bearer);
      g_assert_cmpstr (json_object_get_string_member (request->body, "model"), ==, "qwen3-coder-plus");
      g_assert_cmpstr (soup_message_headers_get_one (request->headers, "User-Agent"), ==, "litellmctl/" PACKAGE_VERSION);
    }
}

static void
test_qwen_login (Fixture      *fixture,
                 gconstpointer data)
{
  machine_up (fixture, "a");
  login_qwen (fixture);
  assert_logged_in_qwen (fixture, "qwen_portal-access-1");
  /* No refresh: the login's token was fresh. */
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 0);
}

static void
test_export_import (Fixture      *fixture,
                    gconstpointer data)
{
  g_autofree char *script = NULL;
  g_autofree char *script_path = NULL;
  g_autofree char *output = NULL;

  machine_up (fixture, "a");
  login_qwen (fixture);
  g_assert_cmpint (run_auth (NULL, &script, "export", "qwen", NULL), ==, 0);
  /* Redirected: the bare script, nothing around it. */
  g_assert_true (g_str_has_prefix (script, "#!/usr/bin/env bash\n"));
  g_assert_null (strstr (script, "qwen_portal-access-1"));
  machine_down (fixture);

  /* Another machine: nothing in its keyring, its own daemon. */
  machine_up (fixture, "b");
  {
    g_autofree char *search = secret_tool_search ("qwen_portal");
    g_autofree char *status = NULL;
    g_autofree char *block = NULL;

    g_assert_null (strstr (search, "qwen_portal-access-1"));
    g_assert_cmpint (run_auth (NULL, &status, "status", NULL), ==, 0);
    block = status_block (status, "Qwen Portal");
    g_assert_cmpstr (block, ==, "  Not authenticated");
  }
  g_assert_cmpint (run_auth (script, &output, "import", NULL), ==, 0);
  g_assert_nonnull (strstr (output, "✓ Qwen Portal"));
  g_assert_nonnull (strstr (output, "✓ Imported 1 credential(s)"));
  assert_logged_in_qwen (fixture, "qwen_portal-access-1");

  /* The script itself, as pasted into a terminal there, imports through
   * the `litellmctl` on PATH. */
  g_clear_pointer (&output, g_free);
  g_assert_cmpint (run_auth (NULL, &output, "logout", "qwen", NULL), ==, 0);
  g_clear_pointer (&output, g_free);
  output = secret_tool_search ("qwen_portal");
  g_assert_null (strstr (output, "qwen_portal-access-1"));
  script_path = g_build_filename (fixture->machine, "transfer.sh", NULL);
  lctl_test_write_file (script_path, script);
  {
    const char *argv[] = { "bash", script_path, NULL };

    g_clear_pointer (&output, g_free);
    g_assert_cmpint (run_program (argv, NULL, &output), ==, 0);
    g_assert_nonnull (strstr (output, "✓ Imported 1 credential(s)"));
  }
  assert_logged_in_qwen (fixture, "qwen_portal-access-1");
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 0);
}

typedef struct
{
  GDataInputStream *lines;
  GString          *output;
  gboolean          eof;
  char             *url;
  GError           *error;
} LoginReader;

static void read_next_line (LoginReader *reader);

static void
line_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  LoginReader     *reader = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (reader->lines, result, NULL, &reader->error);
  const char      *http;

  if (line == NULL)
    {
      reader->eof = TRUE;
      return;
    }
  g_string_append_printf (reader->output, "%s\n", line);
  if (reader->url == NULL && strstr (line, "/oauth/authorize?") != NULL && (http = strstr (line, "http")) != NULL)
    reader->url = g_strstrip (g_strdup (http));
  read_next_line (reader);
}

static void
read_next_line (LoginReader *reader)
{
  g_data_input_stream_read_line_async (reader->lines, G_PRIORITY_DEFAULT, NULL, line_cb, reader);
}

static void
test_pkce_paste (Fixture      *fixture,
                 gconstpointer data)
{
  g_autofree char *cli = cli_path ();
  const char      *argv[] = { cli, "auth", "chatgpt", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (SoupSession) browser = soup_session_new ();
  g_autoptr (SoupMessage) authorize = NULL;
  g_autoptr (GBytes) page = NULL;
  g_autofree char *pasted = NULL;
  g_autofree char *status = NULL;
  g_autofree char *block = NULL;
  g_autofree char *search = NULL;
  g_autoptr (GAsyncResult) waited = NULL;
  g_autoptr (GAsyncResult) sent = NULL;
  LoginReader reader = { 0 };
  const char *location;

  machine_up (fixture, "a");
  process = g_subprocess_newv (argv,
                               G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_MERGE,
                               &error);
  g_assert_no_error (error);
  reader.lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  reader.output = g_string_new (NULL);
  read_next_line (&reader);

  /* No display here: the CLI prints the authorize URL and asks for the
   * redirect URL. */
  {
    gint64 deadline = g_get_monotonic_time () + BUDGET_MS * 1000;

    while (reader.url == NULL && !reader.eof)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, TRUE);
      }
  }
  g_assert_nonnull (reader.url);
  g_assert_true (g_str_has_prefix (reader.url, fixture->oauth->base));

  /* The test signs in like a browser would, but the redirect to
   * localhost:PORT/auth/callback "fails" (it is never followed): the user
   * copies it from the address bar. */
  authorize = soup_message_new ("GET", reader.url);
  g_assert_nonnull (authorize);
  soup_message_add_flags (authorize, SOUP_MESSAGE_NO_REDIRECT);
  /* The mock lives in this process: async, iterating. */
  soup_session_send_and_read_async (browser, authorize, G_PRIORITY_DEFAULT, NULL, lctl_test_store_result, &sent);
  lctl_test_wait_for_result (&sent, BUDGET_MS);
  page = soup_session_send_and_read_finish (browser, sent, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (authorize), ==, 302);
  location = soup_message_headers_get_one (soup_message_get_response_headers (authorize), "Location");
  g_assert_nonnull (location);
  g_assert_true (g_str_has_prefix (location, "http://localhost:"));
  g_assert_nonnull (strstr (location, "/auth/callback?code="));

  pasted = g_strconcat (location, "\n", NULL);
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (process), pasted, strlen (pasted), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (g_subprocess_get_stdin_pipe (process), NULL, &error);
  g_assert_no_error (error);

  iterate_until (&reader.eof, BUDGET_MS);
  g_assert_no_error (reader.error);
  g_subprocess_wait_async (process, NULL, lctl_test_store_result, &waited);
  lctl_test_wait_for_result (&waited, BUDGET_MS);
  if (g_test_verbose ())
    g_printerr ("%s", reader.output->str);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_assert_nonnull (strstr (reader.output->str, "Redirect URL (or wait for callback): "));
  g_assert_nonnull (strstr (reader.output->str, "✓ Logged in to ChatGPT / Codex"));
  /* One code exchange, with the verifier of the authorize request's
   * challenge (the mock refuses anything else). */
  g_assert_cmpint (lctl_mock_oauth_hits (fixture->oauth, "/oauth/token"), ==, 1);

  g_assert_cmpint (run_auth (NULL, &status, "status", NULL), ==, 0);
  block = status_block (status, "ChatGPT / Codex");
  g_assert_nonnull (strstr (block, "Account:    acct-123"));
  g_assert_nonnull (strstr (block, "Backend:    keyring"));
  g_assert_true (g_regex_match_simple ("Expires: +(0h 59m|1h 0m) remaining", block, 0, 0));
  search = secret_tool_search ("chatgpt");
  g_assert_nonnull (strstr (search, "attribute.provider = chatgpt"));

  g_object_unref (reader.lines);
  g_string_free (reader.output, TRUE);
  g_free (reader.url);
}

/* Starts @n requests at once, alternating between Chat Completions and
 * Messages, and waits for all of them. */
static GPtrArray *
post_concurrently (Fixture    *fixture,
                   const char *model,
                   unsigned    n,
                   gboolean    with_tool)
{
  g_autofree char *chat = chat_body (model, with_tool);
  g_autofree char *messages = messages_body (model, with_tool);
  GPtrArray       *responses = g_ptr_array_new_with_free_func ((GDestroyNotify) response_free);

  for (unsigned i = 0; i < n; i++)
    g_ptr_array_add (responses, i % 2 == 0 ? post_start (fixture, "/v1/chat/completions", chat)
                                           : post_start (fixture, "/v1/messages", messages));
  for (unsigned i = 0; i < n; i++)
    post_wait (g_ptr_array_index (responses, i));
  return responses;
}

static void
test_expired_concurrent (Fixture      *fixture,
                         gconstpointer data)
{
  g_autofree char *record = token_record ("qwen-expired-token", "qwen-refresh-seed", -600);
  g_autoptr (GPtrArray) responses = NULL;
  g_autofree char *search = NULL;

  machine_up (fixture, "a");
  keyring_store ("qwen_portal", "Qwen Portal", record);
  fixture->oauth->valid_refresh_token = g_strdup ("qwen-refresh-seed");
  /* The daemon starts the refresh when it loads the expired token (or at
   * the first request); the mock holds it for a second, so every request
   * finds it in flight and must wait on that one. */
  fixture->oauth->refresh_delay_ms = 1000;

  daemon_up (fixture);
  responses = post_concurrently (fixture, "qwen-coder", N_CONCURRENT, FALSE);

  g_assert_cmpint (fixture->oauth->refresh_count, ==, 1);
  for (unsigned i = 0; i < N_CONCURRENT; i++)
    {
      g_autofree char *text = answer_text (g_ptr_array_index (responses, i), i % 2 == 1);

      g_assert_cmpstr (text, ==, UPSTREAM_TEXT);
    }
  g_assert_cmpuint (fixture->upstream->requests->len, ==, N_CONCURRENT);
  for (unsigned i = 0; i < N_CONCURRENT; i++)
    g_assert_cmpstr (upstream_request (fixture, i)->authorization, ==, "Bearer qwen_portal-access-1");

  /* The rotated refresh token is what the keyring holds now. */
  search = secret_tool_search ("qwen_portal");
  g_assert_nonnull (strstr (search, "qwen_portal-access-1"));
  g_assert_nonnull (strstr (search, "qwen_portal-refresh-1"));
  g_assert_null (strstr (search, "qwen-refresh-seed"));
}

static void
test_upstream_401 (Fixture      *fixture,
                   gconstpointer data)
{
  g_autofree char *record = token_record ("qwen-revoked-token", "qwen-refresh-seed", 3600);
  g_autoptr (GPtrArray) responses = NULL;
  unsigned old = 0, fresh = 0;

  machine_up (fixture, "a");
  keyring_store ("qwen_portal", "Qwen Portal", record);
  fixture->oauth->valid_refresh_token = g_strdup ("qwen-refresh-seed");
  /* Not expired by its date, but the provider no longer takes it. */
  g_hash_table_add (fixture->upstream->revoked, g_strdup ("qwen-revoked-token"));

  daemon_up (fixture);
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", "{\"model\":\"qwen-coder\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    g_autofree char *text = answer_text (response, FALSE);

    g_assert_cmpstr (text, ==, UPSTREAM_TEXT);
  }
  /* Refreshed once, retried once with the new token. */
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 1);
  g_assert_cmpuint (fixture->upstream->requests->len, ==, 2);
  g_assert_cmpstr (upstream_request (fixture, 0)->authorization, ==, "Bearer qwen-revoked-token");
  g_assert_cmpstr (upstream_request (fixture, 1)->authorization, ==, "Bearer qwen_portal-access-1");

  /* The new token is revoked too, and many requests meet that at once:
   * still one refresh. */
  g_hash_table_add (fixture->upstream->revoked, g_strdup ("qwen_portal-access-1"));
  g_ptr_array_set_size (fixture->upstream->requests, 0);
  responses = post_concurrently (fixture, "qwen-coder", 6, FALSE);
  for (unsigned i = 0; i < responses->len; i++)
    {
      g_autofree char *text = answer_text (g_ptr_array_index (responses, i), i % 2 == 1);

      g_assert_cmpstr (text, ==, UPSTREAM_TEXT);
    }
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 2);
  for (unsigned i = 0; i < fixture->upstream->requests->len; i++)
    {
      const char *authorization = upstream_request (fixture, i)->authorization;

      if (g_strcmp0 (authorization, "Bearer qwen_portal-access-1") == 0)
        old++;
      else if (g_strcmp0 (authorization, "Bearer qwen_portal-access-2") == 0)
        fresh++;
      else
        g_error ("unexpected token upstream: %s", authorization);
    }
  /* Every request was retried with the new token, or (when it reached the
   * daemon after the refresh) sent with it at once. */
  g_assert_cmpuint (fresh, ==, 6);
  g_assert_cmpuint (old, >=, 1);
  g_assert_cmpuint (old, <=, 6);
}

static char **
needs_login_property (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (fixture->connection, APP_ID, OBJECT_PATH,
                                                            "org.freedesktop.DBus.Properties", "Get",
                                                            g_variant_new ("(ss)", APP_ID ".Accounts", "NeedsLogin"),
                                                            G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                                            &error);
  g_autoptr (GVariant) value = NULL;

  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return g_variant_dup_strv (value, NULL);
}

static void
test_refresh_rejected (Fixture      *fixture,
                       gconstpointer data)
{
  g_autofree char *record = token_record ("qwen-expired-token", "qwen-refresh-seed", -600);
  g_autofree char *status = NULL;
  g_autofree char *block = NULL;
  g_autofree char *body = chat_body ("qwen-coder", FALSE);
  g_auto (GStrv) needs_login = NULL;

  machine_up (fixture, "a");
  keyring_store ("qwen_portal", "Qwen Portal", record);
  fixture->oauth->valid_refresh_token = g_strdup ("qwen-refresh-seed");
  fixture->oauth->refresh_mode = MOCK_REFRESH_REJECT;

  daemon_up (fixture);
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body);
    g_autofree char *text = answer_text (response, FALSE);

    /* The group's chain ends in the offline fallback, which serves. */
    g_assert_cmpstr (text, ==, FALLBACK_TEXT);
    g_assert_cmpstr (soup_message_headers_get_one (response->headers, "x-litellm-model-group"), ==, "offline-fallback");
  }
  g_assert_cmpuint (fixture->upstream->requests->len, ==, 0);
  /* A rejected refresh is not retried. */
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 1);

  needs_login = needs_login_property (fixture);
  g_assert_true (g_strv_contains ((const char *const *) needs_login, "qwen_portal"));
  g_assert_cmpint (run_auth (NULL, &status, "status", NULL), ==, 0);
  block = status_block (status, "Qwen Portal");
  g_assert_nonnull (strstr (block, "Status:     NEEDS LOGIN"));
  g_assert_nonnull (strstr (block, "Expires:    EXPIRED"));

  /* Until the user logs in again: the next request does not try. */
  {
    g_autoptr (Response) response = post (fixture, "/v1/messages", "{\"model\":\"qwen-coder\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    g_autofree char *text = answer_text (response, TRUE);

    g_assert_cmpstr (text, ==, FALLBACK_TEXT);
  }
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 1);

  /* A new login clears it. */
  fixture->oauth->refresh_mode = MOCK_REFRESH_OK;
  login_qwen (fixture);
  g_strfreev (needs_login);
  needs_login = needs_login_property (fixture);
  g_assert_false (g_strv_contains ((const char *const *) needs_login, "qwen_portal"));
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", body);
    g_autofree char *text = answer_text (response, FALSE);

    g_assert_cmpstr (text, ==, UPSTREAM_TEXT);
  }
  g_assert_cmpuint (fixture->upstream->requests->len, ==, 1);
  g_assert_cmpstr (upstream_request (fixture, 0)->authorization, ==, "Bearer qwen_portal-access-1");
}

/* What Kimi Code needs on every request (PROTOCOLS.md §1.5). */
static void
assert_kimi_request (UpstreamRequest *request,
                     const char      *token)
{
  g_autofree char *bearer = g_strconcat ("Bearer ", token, NULL);
  JsonObject      *thinking;
  JsonArray       *tools;
  const char      *name;

  g_assert_cmpstr (request->path, ==, "/coding/v1/chat/completions");
  g_assert_cmpstr (request->authorization, ==, bearer);
  g_assert_cmpstr (soup_message_headers_get_one (request->headers, "X-Msh-Platform"), ==, "kimi_cli");
  g_assert_cmpstr (soup_message_headers_get_one (request->headers, "X-Msh-Device-Id"), ==, KIMI_DEVICE_ID);
  g_assert_nonnull (soup_message_headers_get_one (request->headers, "X-Msh-Version"));
  g_assert_nonnull (soup_message_headers_get_one (request->headers, "X-Msh-Device-Name"));
  g_assert_nonnull (soup_message_headers_get_one (request->headers, "X-Msh-Device-Model"));
  g_assert_nonnull (soup_message_headers_get_one (request->headers, "X-Msh-Os-Version"));
  g_assert_cmpstr (soup_message_headers_get_one (request->headers, "User-Agent"), ==, "KimiCLI/1.25.0");
  g_assert_cmpstr (json_object_get_string_member (request->body, "model"), ==, "kimi-for-coding");

  /* Without a choice from the client, thinking is off (else Kimi rejects
   * every temperature but 0.6). */
  g_assert_true (json_object_has_member (request->body, "thinking"));
  thinking = json_object_get_object_member (request->body, "thinking");
  g_assert_nonnull (thinking);
  g_assert_cmpstr (json_object_get_string_member (thinking, "type"), ==, "disabled");

  /* Kimi takes only ^[a-zA-Z][a-zA-Z0-9_-]*$ as a tool name. */
  tools = json_object_get_array_member (request->body, "tools");
  g_assert_nonnull (tools);
  g_assert_cmpuint (json_array_get_length (tools), ==, 1);
  name = json_object_get_string_member (json_object_get_object_member (json_array_get_object_element (tools, 0), "function"),
                                        "name");
  g_assert_cmpstr (name, ==, UPSTREAM_TOOL);
  g_assert_true (g_regex_match_simple ("^[a-zA-Z][a-zA-Z0-9_-]*$", name, 0, 0));
}

/* The client gets its own tool name back. */
static void
assert_client_tool_call (Response *response,
                         gboolean  anthropic)
{
  g_autoptr (JsonObject) body = NULL;

  g_assert_cmpuint (response->status, ==, 200);
  body = parse_object (response->body);
  if (anthropic)
    {
      JsonArray  *content = json_object_get_array_member (body, "content");
      JsonObject *block = NULL;

      for (unsigned i = 0; i < json_array_get_length (content); i++)
        if (g_str_equal (json_object_get_string_member (json_array_get_object_element (content, i), "type"), "tool_use"))
          block = json_array_get_object_element (content, i);
      g_assert_nonnull (block);
      g_assert_cmpstr (json_object_get_string_member (block, "name"), ==, CLIENT_TOOL);
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (block, "input"), "query"), ==,
                       "token refresh");
      g_assert_cmpstr (json_object_get_string_member (body, "stop_reason"), ==, "tool_use");
    }
  else
    {
      JsonObject *choice = json_array_get_object_element (json_object_get_array_member (body, "choices"), 0);
      JsonObject *message = json_object_get_object_member (choice, "message");
      JsonObject *call = json_array_get_object_element (json_object_get_array_member (message, "tool_calls"), 0);

      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (call, "function"), "name"), ==,
                       CLIENT_TOOL);
      g_assert_cmpstr (json_object_get_string_member (choice, "finish_reason"), ==, "tool_calls");
    }
}

static void
test_kimi (Fixture      *fixture,
           gconstpointer data)
{
  g_autofree char *record = token_record ("kimi-live-token", "kimi-refresh-seed", 3600);
  g_autofree char *chat = chat_body ("kimi-coder", TRUE);
  g_autofree char *messages = messages_body ("kimi-coder", TRUE);

  machine_up (fixture, "a");
  keyring_store ("kimi_code", "Kimi Code", record);
  fixture->oauth->valid_refresh_token = g_strdup ("kimi-refresh-seed");

  daemon_up (fixture);
  {
    g_autoptr (Response) response = post (fixture, "/v1/chat/completions", chat);

    assert_client_tool_call (response, FALSE);
  }
  {
    g_autoptr (Response) response = post (fixture, "/v1/messages", messages);

    assert_client_tool_call (response, TRUE);
  }
  g_assert_cmpuint (fixture->upstream->requests->len, ==, 2);
  assert_kimi_request (upstream_request (fixture, 0), "kimi-live-token");
  assert_kimi_request (upstream_request (fixture, 1), "kimi-live-token");
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 0);

  /* A 401 there: refreshed at Kimi's token endpoint, retried with the new
   * token, the same identity and the same sanitised tool, and the client
   * still gets its own name back. */
  g_hash_table_add (fixture->upstream->revoked, g_strdup ("kimi-live-token"));
  {
    g_autoptr (Response) response = post (fixture, "/v1/messages", messages);

    assert_client_tool_call (response, TRUE);
  }
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 1);
  g_assert_cmpint (lctl_mock_oauth_hits (fixture->oauth, "/api/oauth/token"), ==, 1);
  g_assert_cmpuint (fixture->upstream->requests->len, ==, 4);
  assert_kimi_request (upstream_request (fixture, 2), "kimi-live-token");
  assert_kimi_request (upstream_request (fixture, 3), "kimi_code-access-1");

  /* Each new token revoked in turn: every request refreshes and retries
   * once, and (under ASan) nothing of the first attempt leaks. */
  for (int round = 1; round <= 3; round++)
    {
      g_autofree char *revoked = g_strdup_printf ("kimi_code-access-%d", round);
      g_autofree char *fresh = g_strdup_printf ("kimi_code-access-%d", round + 1);
      g_autoptr (Response) response = NULL;
      unsigned before = fixture->upstream->requests->len;

      g_hash_table_add (fixture->upstream->revoked, g_strdup (revoked));
      response = post (fixture, "/v1/chat/completions", chat);
      assert_client_tool_call (response, FALSE);
      g_assert_cmpuint (fixture->upstream->requests->len, ==, before + 2);
      assert_kimi_request (upstream_request (fixture, before), revoked);
      assert_kimi_request (upstream_request (fixture, before + 1), fresh);
    }
  g_assert_cmpint (fixture->oauth->refresh_count, ==, 4);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *keyring = g_find_program_in_path ("gnome-keyring-daemon");
  g_autofree char *secret_tool = g_find_program_in_path ("secret-tool");

  test_tmpdir = lctl_test_init (&argc, &argv);
  if (keyring == NULL || secret_tool == NULL)
    {
      /* TAP's way to skip a whole program. */
      g_print ("1..0 # SKIP gnome-keyring-daemon and secret-tool are needed\n");
      return 0;
    }

#define ADD(path, func) g_test_add ("/auth-acceptance/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("qwen-login", test_qwen_login);
  ADD ("export-import-fresh-home", test_export_import);
  ADD ("pkce-pasted-redirect", test_pkce_paste);
  ADD ("expired-token-concurrent-requests", test_expired_concurrent);
  ADD ("upstream-401-refresh-retry", test_upstream_401);
  ADD ("refresh-rejected-needs-login-fallback", test_refresh_rejected);
  ADD ("kimi-identity-thinking-tool-names", test_kimi);
#undef ADD

  return g_test_run ();
}
