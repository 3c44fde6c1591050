/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#define G_LOG_DOMAIN "litellmctl"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <stdlib.h>

#include "lctl-accounts-service.h"
#include "lctl-application.h"
#include "lctl-debug.h"
#include "lctl-error.h"
#include "lctl-manager.h"
#include "lctl-proxy.h"

#define DEFAULT_PORT       4000
#define DEFAULT_HOST       "127.0.0.1"
#define RELOAD_DEBOUNCE_MS 150
#define GRACE_PERIOD_MS    10000
#define LISTEN_RETRY_MS    100
#define LISTEN_RETRIES     50

struct _LctlApplication
{
  GApplication parent_instance;

  /* Command line. */
  char    *opt_config;
  char    *opt_host;
  int      opt_port;
  gboolean opt_verbose;
  gboolean opt_replace;
  gboolean opt_version;

  char    *host;
  unsigned port;
  gboolean config_explicit;
  char    *config_path;
  char    *config_error;

  LctlServer          *server;
  LctlRouter          *router;
  LctlUpstream        *upstream;
  LctlProxy           *proxy;
  LctlAccountsService *accounts;
  LctlManager         *manager;
  GCancellable        *cancellable;

  GFileMonitor *config_monitor;
  GFileMonitor *default_dir_monitor;
  unsigned      reload_source_id;
  unsigned      grace_source_id;
  unsigned      listen_source_id;
  unsigned      listen_attempts;
  unsigned      signal_source_ids[3];
  gulong        idle_handler_id;

  gint64   started_at;
  int      exit_status;
  gboolean held;
  gboolean quitting;
};

G_DEFINE_FINAL_TYPE (LctlApplication, lctl_application, G_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "config", 'c', 0, G_OPTION_ARG_FILENAME, NULL, N_ ("Configuration file (LiteLLM config.yaml)"), N_ ("FILE") },
  { "host", 0, 0, G_OPTION_ARG_STRING, NULL, N_ ("Address to listen on (default $LITELLMCTL_HOST or 127.0.0.1)"), N_ ("HOST") },
  { "port", 'p', 0, G_OPTION_ARG_INT, NULL, N_ ("Port to listen on (default $LITELLMCTL_PORT or 4000)"), N_ ("PORT") },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, NULL, N_ ("Print debug messages"), NULL },
  { "replace", 'r', 0, G_OPTION_ARG_NONE, NULL, N_ ("Replace a running instance"), NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Print the version and exit"), NULL },
  { NULL }
};

static char *
resolve_config_path (LctlApplication *self)
{
  g_autofree char *user_path = NULL;

  if (self->opt_config != NULL)
    return g_canonicalize_filename (self->opt_config, NULL);
  if (g_getenv ("LITELLMCTL_CONFIG") != NULL && *g_getenv ("LITELLMCTL_CONFIG") != '\0')
    return g_canonicalize_filename (g_getenv ("LITELLMCTL_CONFIG"), NULL);
  user_path = lctl_config_default_path ();
  if (g_file_test (user_path, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&user_path);
  return lctl_config_default_template_path ();
}

static void
log_config_warnings (LctlConfig *config)
{
  for (char **w = config->warnings; w != NULL && *w != NULL; w++)
    g_warning ("%s", *w);
}

static void
set_config_error (LctlApplication *self,
                  const char      *message)
{
  g_free (self->config_error);
  self->config_error = g_strdup (message != NULL ? message : "");
  if (self->manager != NULL)
    lctl_manager_sync (self->manager);
}

static gboolean
load_config (LctlApplication *self,
             GError         **error)
{
  g_autofree char *path = resolve_config_path (self);
  g_autoptr (LctlConfig) config = NULL;
  g_autoptr (GError) local_error = NULL;

  config = lctl_config_load (path, &local_error);
  if (config == NULL)
    {
      set_config_error (self, local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  log_config_warnings (config);
  g_free (self->config_path);
  self->config_path = g_steal_pointer (&path);
  lctl_upstream_configure (self->upstream, config);
  lctl_server_set_config (self->server, config);
  set_config_error (self, NULL);

  g_message ("Serving %u models (%u deployments) from %s",
             g_strv_length (config->model_names), config->deployments->len, self->config_path);
  if (self->manager != NULL)
    lctl_dbus_manager_emit_config_applied (LCTL_DBUS_MANAGER (self->manager), self->config_path,
                                           g_strv_length (config->model_names));
  return TRUE;
}

/**
 * lctl_application_reload:
 *
 * Builds a new snapshot from the configuration file. The old one keeps
 * serving when the new one is not valid.
 *
 * Returns: whether the new configuration is being served.
 */
gboolean
lctl_application_reload (LctlApplication *self,
                         GError         **error)
{
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (LCTL_IS_APPLICATION (self), FALSE);

  if (!load_config (self, &local_error))
    {
      g_warning ("Configuration not reloaded, the previous one keeps serving: %s", local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
reload_timeout_cb (gpointer user_data)
{
  LctlApplication *self = user_data;

  self->reload_source_id = 0;
  lctl_application_reload (self, NULL);
  return G_SOURCE_REMOVE;
}

static void
config_dir_changed_cb (GFileMonitor     *monitor,
                       GFile            *file,
                       GFile            *other_file,
                       GFileMonitorEvent event,
                       gpointer          user_data)
{
  LctlApplication *self = user_data;
  g_autofree char *config_name = g_path_get_basename (self->config_path);
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *other_name = other_file != NULL ? g_file_get_basename (other_file) : NULL;
  gboolean         relevant = FALSE;

  if (event == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED || event == G_FILE_MONITOR_EVENT_PRE_UNMOUNT ||
      event == G_FILE_MONITOR_EVENT_UNMOUNTED)
    return;

  /* Editors save by writing a temporary file and renaming it over ours. */
  for (const char *n = name; n != NULL; n = (n == name ? other_name : NULL))
    relevant |= g_str_equal (n, config_name) || g_str_equal (n, "config.yaml") || g_str_equal (n, ".env");
  if (!relevant)
    return;

  lctl_debug (LCTL_DEBUG_CONFIG, "Configuration directory changed (%s), reloading soon", name);
  g_clear_handle_id (&self->reload_source_id, g_source_remove);
  self->reload_source_id = g_timeout_add (RELOAD_DEBOUNCE_MS, reload_timeout_cb, self);
}

static GFileMonitor *
monitor_directory (LctlApplication *self,
                   const char      *dir_path)
{
  g_autoptr (GFile) dir = g_file_new_for_path (dir_path);
  g_autoptr (GError) error = NULL;
  GFileMonitor *monitor;

  monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (monitor == NULL)
    {
      g_warning ("Cannot watch %s for changes: %s", dir_path, error->message);
      return NULL;
    }
  g_signal_connect (monitor, "changed", G_CALLBACK (config_dir_changed_cb), self);
  return monitor;
}

static void
setup_config_monitors (LctlApplication *self)
{
  g_autofree char *config_dir = g_path_get_dirname (self->config_path);
  g_autofree char *user_path = lctl_config_default_path ();
  g_autofree char *user_dir = g_path_get_dirname (user_path);

  self->config_monitor = monitor_directory (self, config_dir);

  /* Serving the shipped default: start serving the user's own file as soon
   * as it appears. */
  if (!self->config_explicit && g_strcmp0 (config_dir, user_dir) != 0)
    {
      g_mkdir_with_parents (user_dir, 0700);
      self->default_dir_monitor = monitor_directory (self, user_dir);
    }
}

static gboolean
quit_now_cb (gpointer user_data)
{
  LctlApplication *self = user_data;

  self->grace_source_id = 0;
  if (lctl_server_get_in_flight (self->server) > 0)
    g_warning ("Grace period over, dropping %u requests in flight", lctl_server_get_in_flight (self->server));
  g_application_quit (G_APPLICATION (self));
  return G_SOURCE_REMOVE;
}

static void
server_idle_cb (LctlServer *server,
                gpointer    user_data)
{
  LctlApplication *self = user_data;

  if (self->quitting)
    {
      g_clear_handle_id (&self->grace_source_id, g_source_remove);
      g_application_quit (G_APPLICATION (self));
    }
}

/**
 * lctl_application_quit_gracefully:
 *
 * Stops accepting connections and quits once the requests in flight have
 * finished, or after a grace period.
 */
void
lctl_application_quit_gracefully (LctlApplication *self)
{
  g_return_if_fail (LCTL_IS_APPLICATION (self));

  if (self->quitting)
    return;
  self->quitting = TRUE;

  lctl_server_stop_listening (self->server);
  if (lctl_server_get_in_flight (self->server) == 0)
    {
      g_application_quit (G_APPLICATION (self));
      return;
    }
  g_message ("Waiting for %u requests in flight before quitting", lctl_server_get_in_flight (self->server));
  self->grace_source_id = g_timeout_add (GRACE_PERIOD_MS, quit_now_cb, self);
}

static gboolean
quit_signal_cb (gpointer user_data)
{
  LctlApplication *self = user_data;

  /* A second signal means "now". */
  if (self->quitting)
    g_application_quit (G_APPLICATION (self));
  else
    lctl_application_quit_gracefully (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
reload_signal_cb (gpointer user_data)
{
  LctlApplication *self = user_data;

  g_message ("SIGHUP: reloading the configuration");
  lctl_application_reload (self, NULL);
  return G_SOURCE_CONTINUE;
}

static void
fail_startup (LctlApplication *self,
              const char      *message)
{
  g_printerr ("litellmctld: %s\n", message);
  self->exit_status = EXIT_FAILURE;
  if (self->held)
    {
      self->held = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  g_application_quit (G_APPLICATION (self));
}

static void
serving (LctlApplication *self)
{
  if (self->manager != NULL)
    lctl_manager_sync (self->manager);
  g_message ("litellmctl %s listening on %s", PACKAGE_VERSION, lctl_server_get_address (self->server));
}

static gboolean
listen_retry_cb (gpointer user_data)
{
  LctlApplication *self = user_data;
  g_autoptr (GError) error = NULL;

  if (lctl_server_listen (self->server, self->host, self->port, &error))
    {
      self->listen_source_id = 0;
      serving (self);
      return G_SOURCE_REMOVE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE) &&
      ++self->listen_attempts < LISTEN_RETRIES)
    return G_SOURCE_CONTINUE;

  self->listen_source_id = 0;
  {
    g_autofree char *message = g_strdup_printf ("Cannot listen on %s:%u: %s", self->host, self->port, error->message);
    fail_startup (self, message);
  }
  return G_SOURCE_REMOVE;
}

static void
lctl_application_startup (GApplication *application)
{
  LctlApplication *self = LCTL_APPLICATION (application);
  g_autoptr (GError) error = NULL;
  LctlConfig *config;

  G_APPLICATION_CLASS (lctl_application_parent_class)->startup (application);

  self->started_at = g_get_monotonic_time ();
  g_application_hold (application);
  self->held = TRUE;

  self->signal_source_ids[0] = g_unix_signal_add (SIGTERM, quit_signal_cb, self);
  self->signal_source_ids[1] = g_unix_signal_add (SIGINT, quit_signal_cb, self);
  self->signal_source_ids[2] = g_unix_signal_add (SIGHUP, reload_signal_cb, self);

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    g_warning ("TLS is not available (install glib-networking): https:// upstreams will fail");

  if (!load_config (self, &error))
    {
      fail_startup (self, error->message);
      return;
    }
  config = lctl_server_get_config (self->server);
  setup_config_monitors (self);

  if (!lctl_host_is_loopback (self->host) && (config->master_key == NULL || *config->master_key == '\0'))
    {
      g_autofree char *message = g_strdup_printf (
          "Refusing to listen on %s without a master key: anyone who can reach it could use "
          "your subscriptions. Set general_settings.master_key (e.g. os.environ/LITELLM_MASTER_KEY) "
          "or listen on 127.0.0.1.",
          self->host);
      fail_startup (self, message);
      return;
    }

  /* A replaced instance may still hold the port for a moment. */
  self->listen_source_id = g_timeout_add (LISTEN_RETRY_MS, listen_retry_cb, self);
  if (lctl_server_listen (self->server, self->host, self->port, &error))
    {
      g_clear_handle_id (&self->listen_source_id, g_source_remove);
      serving (self);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    {
      g_autofree char *message = g_strdup_printf ("Cannot listen on %s:%u: %s", self->host, self->port, error->message);

      g_clear_handle_id (&self->listen_source_id, g_source_remove);
      fail_startup (self, message);
    }
}

static void
lctl_application_activate (GApplication *application)
{
  /* A service has no window: activation only makes sure it runs. */
}

static void
lctl_application_shutdown (GApplication *application)
{
  LctlApplication *self = LCTL_APPLICATION (application);

  g_cancellable_cancel (self->cancellable);
  for (unsigned i = 0; i < G_N_ELEMENTS (self->signal_source_ids); i++)
    g_clear_handle_id (&self->signal_source_ids[i], g_source_remove);
  g_clear_handle_id (&self->reload_source_id, g_source_remove);
  g_clear_handle_id (&self->grace_source_id, g_source_remove);
  g_clear_handle_id (&self->listen_source_id, g_source_remove);
  g_clear_object (&self->config_monitor);
  g_clear_object (&self->default_dir_monitor);
  lctl_server_disconnect (self->server);

  G_APPLICATION_CLASS (lctl_application_parent_class)->shutdown (application);
}

static gboolean
lctl_application_dbus_register (GApplication    *application,
                                GDBusConnection *connection,
                                const char      *object_path,
                                GError         **error)
{
  LctlApplication *self = LCTL_APPLICATION (application);

  if (!G_APPLICATION_CLASS (lctl_application_parent_class)->dbus_register (application, connection, object_path, error))
    return FALSE;

  self->manager = lctl_manager_new (self);
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->manager),
                                           connection, OBJECT_PATH, error) &&
         g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->accounts),
                                           connection, OBJECT_PATH, error);
}

static void
lctl_application_dbus_unregister (GApplication    *application,
                                  GDBusConnection *connection,
                                  const char      *object_path)
{
  LctlApplication *self = LCTL_APPLICATION (application);

  if (self->manager != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->manager));
  g_clear_object (&self->manager);
  if (g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (self->accounts)) != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->accounts));

  G_APPLICATION_CLASS (lctl_application_parent_class)->dbus_unregister (application, connection, object_path);
}

static gboolean
session_bus_available (void)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

  return bus != NULL;
}

static int
lctl_application_handle_local_options (GApplication *application,
                                       GVariantDict *options)
{
  LctlApplication *self = LCTL_APPLICATION (application);
  const char      *env;
  g_autoptr (GError) error = NULL;

  if (self->opt_version)
    {
      g_print ("litellmctld %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  lctl_debug_init (self->opt_verbose);

  env = g_getenv ("LITELLMCTL_HOST");
  self->host = g_strdup (self->opt_host != NULL          ? self->opt_host
                         : (env != NULL && *env != '\0') ? env
                                                         : DEFAULT_HOST);

  if (self->opt_port >= 0)
    self->port = self->opt_port;
  else if ((env = g_getenv ("LITELLMCTL_PORT")) != NULL && *env != '\0')
    {
      guint64 value;

      if (!g_ascii_string_to_unsigned (env, 10, 0, 65535, &value, &error))
        {
          g_printerr ("litellmctld: LITELLMCTL_PORT: %s\n", error->message);
          return EXIT_FAILURE;
        }
      self->port = value;
    }
  else
    self->port = DEFAULT_PORT;
  if (self->opt_port > 65535)
    {
      g_printerr ("litellmctld: --port must be between 0 and 65535\n");
      return 2;
    }

  self->config_explicit = self->opt_config != NULL || g_getenv ("LITELLMCTL_CONFIG") != NULL;

  if (!session_bus_available ())
    {
      /* Headless servers and containers: serve anyway, without D-Bus. */
      g_message ("No D-Bus session bus: serving without the D-Bus interface (litellmctl status/reload will not reach this instance)");
      g_application_set_flags (application, G_APPLICATION_NON_UNIQUE);
      return -1;
    }

  if (self->opt_replace)
    g_application_set_flags (application, g_application_get_flags (application) | G_APPLICATION_REPLACE);

  if (!g_application_register (application, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS) ||
          g_strrstr (error->message, "acquire") != NULL)
        g_printerr ("litellmctld: another instance is already running on this session bus "
                    "(use --replace to take over): %s\n",
                    error->message);
      else
        g_printerr ("litellmctld: %s\n", error->message);
      return EXIT_FAILURE;
    }

  return -1;
}

static void
lctl_application_dispose (GObject *object)
{
  LctlApplication *self = LCTL_APPLICATION (object);

  g_clear_signal_handler (&self->idle_handler_id, self->server);
  if (self->server != NULL)
    lctl_server_set_proxy_func (self->server, NULL, NULL);
  g_clear_object (&self->server);
  g_clear_object (&self->proxy);
  g_clear_object (&self->accounts);
  g_clear_object (&self->upstream);
  g_clear_object (&self->router);
  g_clear_object (&self->manager);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (lctl_application_parent_class)->dispose (object);
}

static void
lctl_application_finalize (GObject *object)
{
  LctlApplication *self = LCTL_APPLICATION (object);

  g_free (self->opt_config);
  g_free (self->opt_host);
  g_free (self->host);
  g_free (self->config_path);
  g_free (self->config_error);

  G_OBJECT_CLASS (lctl_application_parent_class)->finalize (object);
}

static void
lctl_application_class_init (LctlApplicationClass *klass)
{
  GObjectClass      *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = lctl_application_dispose;
  object_class->finalize = lctl_application_finalize;

  application_class->startup = lctl_application_startup;
  application_class->activate = lctl_application_activate;
  application_class->shutdown = lctl_application_shutdown;
  application_class->dbus_register = lctl_application_dbus_register;
  application_class->dbus_unregister = lctl_application_dbus_unregister;
  application_class->handle_local_options = lctl_application_handle_local_options;
}

static void
lctl_application_init (LctlApplication *self)
{
  GOptionEntry entries[G_N_ELEMENTS (option_entries)];

  memcpy (entries, option_entries, sizeof entries);
  entries[0].arg_data = &self->opt_config;
  entries[1].arg_data = &self->opt_host;
  entries[2].arg_data = &self->opt_port;
  entries[3].arg_data = &self->opt_verbose;
  entries[4].arg_data = &self->opt_replace;
  entries[5].arg_data = &self->opt_version;
  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _ ("The litellmctl proxy daemon: serves Anthropic and OpenAI "
                                               "endpoints on 127.0.0.1 and routes them to the model groups "
                                               "of a LiteLLM config.yaml."));

  self->opt_port = -1;
  self->config_path = g_strdup ("");
  self->config_error = g_strdup ("");
  self->cancellable = g_cancellable_new ();
  self->server = lctl_server_new ();
  self->router = lctl_router_new ();
  self->upstream = lctl_upstream_new ();
  self->accounts = lctl_accounts_service_new ();
  self->proxy = lctl_proxy_new (self->router, self->upstream,
                                lctl_accounts_service_get_token_source (self->accounts),
                                self->cancellable);
  lctl_server_set_proxy_func (self->server, lctl_proxy_handle, self->proxy);
  self->idle_handler_id = g_signal_connect (self->server, "idle", G_CALLBACK (server_idle_cb), self);
}

LctlApplication *
lctl_application_new (void)
{
  return g_object_new (LCTL_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_IS_SERVICE | G_APPLICATION_ALLOW_REPLACEMENT,
                       NULL);
}

int
lctl_application_get_exit_status (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), EXIT_FAILURE);

  return self->exit_status;
}

LctlServer *
lctl_application_get_server (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), NULL);

  return self->server;
}

const char *
lctl_application_get_config_path (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), NULL);

  return self->config_path;
}

const char *
lctl_application_get_config_error (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), NULL);

  return self->config_error;
}

gint64
lctl_application_get_started_at (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), 0);

  return self->started_at;
}

LctlRouter *
lctl_application_get_router (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), NULL);

  return self->router;
}

LctlProxy *
lctl_application_get_proxy (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), NULL);

  return self->proxy;
}

GCancellable *
lctl_application_get_cancellable (LctlApplication *self)
{
  g_return_val_if_fail (LCTL_IS_APPLICATION (self), NULL);

  return self->cancellable;
}
