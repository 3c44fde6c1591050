/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lctl-cli.h"
#include "lctl-cmd-auth.h"
#include "lctl-error.h"

typedef struct
{
  const char *name;
  const char *synopsis;
  const char *description;
  int (*run) (int argc, char **argv);
} LctlCommand;

static int run_help (int argc, char **argv);

/* -------------------------------------------------------------------- */
/* Shared helpers                                                        */

gboolean
lctl_cli_use_color (void)
{
  return isatty (STDOUT_FILENO) && g_getenv ("NO_COLOR") == NULL;
}

void
lctl_cli_print_error (const char   *what,
                      const GError *error)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  g_autoptr (GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  if (remote != NULL && g_str_equal (remote, "org.freedesktop.DBus.Error.ServiceUnknown"))
    g_printerr (_ ("litellmctl: %s: the daemon is not running and D-Bus cannot start it "
                   "(is litellmctl installed, with its D-Bus service file?). "
                   "Run “litellmctl proxy” to run it in the foreground.\n"),
                what);
  else if (remote != NULL && (g_str_equal (remote, "org.freedesktop.DBus.Error.Spawn.ChildExited") ||
                              g_str_has_prefix (remote, "org.freedesktop.DBus.Error.Spawn")))
    g_printerr (_ ("litellmctl: %s: the daemon failed to start: %s\n"
                   "Run “litellmctl proxy” to see why.\n"),
                what, copy->message);
  else
    g_printerr ("litellmctl: %s: %s\n", what, copy->message);
}

GDBusConnection *
lctl_cli_get_bus (void)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);

  if (bus == NULL)
    {
      g_printerr (_ ("litellmctl: no D-Bus session bus (%s).\n"
                     "The CLI reaches the daemon over the session bus. On a desktop this is "
                     "always there; over SSH or in a container either:\n"
                     "  - enable a user session: loginctl enable-linger $USER, then log in again;\n"
                     "  - or start one for this shell: dbus-run-session -- $SHELL;\n"
                     "  - or run the proxy in the foreground: litellmctl proxy\n"),
                  error->message);
      return NULL;
    }
  return bus;
}

LctlDBusManager *
lctl_cli_get_manager (gboolean auto_start)
{
  g_autoptr (GDBusConnection) bus = lctl_cli_get_bus ();
  g_autoptr (GError) error = NULL;
  GDBusProxyFlags  flags = G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS;
  LctlDBusManager *manager;

  if (bus == NULL)
    return NULL;
  if (!auto_start)
    flags |= G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START;
  manager = lctl_dbus_manager_proxy_new_sync (bus, flags, APP_ID, OBJECT_PATH, NULL, &error);
  if (manager == NULL)
    lctl_cli_print_error (_ ("cannot reach the daemon"), error);
  else
    g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (manager), 60000);
  return manager;
}

static gboolean
parse_json_flag (int        *argc,
                 char     ***argv,
                 const char *command,
                 gboolean   *json)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, json, N_ ("Print JSON"), NULL },
    { NULL }
  };

  context = g_option_context_new (NULL);
  g_option_context_set_help_enabled (context, TRUE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("litellmctl %s: %s\n", command, error->message);
      return FALSE;
    }
  if (*argc > 1)
    {
      g_printerr (_ ("litellmctl %s: unexpected argument “%s”\n"), command, (*argv)[1]);
      return FALSE;
    }
  return TRUE;
}

static void
print_json_variant (GVariant *value)
{
  g_autoptr (JsonNode) node = json_gvariant_serialize (value);
  g_autofree char *text = json_to_string (node, TRUE);

  g_print ("%s\n", text);
}

static const char *
lookup_string (GVariant   *dict,
               const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (dict, key, "&s", &value))
    return "";
  return value;
}

static char *
format_until (gint64 until)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_local (until);

  return g_date_time_format (time, "%H:%M:%S");
}

/* Deployments that failed lately or are cooling down, one line each. */
static void
print_health (LctlDBusManager *manager)
{
  g_autoptr (GVariant) models = NULL;
  GVariantIter iter;
  GVariant    *model;
  unsigned     ok = 0, cooling = 0, failing = 0;
  g_autoptr (GString) details = g_string_new (NULL);

  if (!lctl_dbus_manager_call_list_models_sync (manager, &models, NULL, NULL))
    return;
  g_variant_iter_init (&iter, models);
  while ((model = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32     fails = 0;
      gint64      until = 0;
      gint32      last_status = 0;
      const char *last_error = "";

      g_variant_lookup (model, "fails", "u", &fails);
      g_variant_lookup (model, "cooldown-until", "x", &until);
      g_variant_lookup (model, "last-status", "i", &last_status);
      g_variant_lookup (model, "last-error", "&s", &last_error);
      if (until > 0)
        {
          g_autofree char *when = format_until (until);

          cooling++;
          g_string_append_printf (details, "    %-36s %s %s (%u %s, last %d %s)\n", lookup_string (model, "name"),
                                  _ ("cooling down until"), when, fails, _ ("fails"), last_status, last_error);
        }
      else if (fails > 0)
        {
          failing++;
          g_string_append_printf (details, "    %-36s %u %s, last %d %s\n", lookup_string (model, "name"), fails,
                                  _ ("recent fails"), last_status, last_error);
        }
      else
        ok++;
      g_variant_unref (model);
    }
  g_print ("  %-10s %u ok, %u failing, %u cooling down\n", _ ("Health:"), ok, failing, cooling);
  g_print ("%s", details->str);
}

/* -------------------------------------------------------------------- */
/* status                                                                */

static int
run_status (int argc, char **argv)
{
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GError) error = NULL;
  gboolean    json = FALSE;
  guint32     models = 0, deployments = 0, in_flight = 0;
  guint64     requests = 0, uptime = 0;
  const char *config_error;

  if (!parse_json_flag (&argc, &argv, "status", &json))
    return LCTL_EXIT_USAGE;
  if ((manager = lctl_cli_get_manager (TRUE)) == NULL)
    return LCTL_EXIT_FAILURE;
  if (!lctl_dbus_manager_call_get_status_sync (manager, &status, NULL, &error))
    {
      lctl_cli_print_error (_ ("cannot get the daemon's status"), error);
      return LCTL_EXIT_FAILURE;
    }

  if (json)
    {
      print_json_variant (status);
      return LCTL_EXIT_OK;
    }

  g_variant_lookup (status, "model-count", "u", &models);
  g_variant_lookup (status, "deployment-count", "u", &deployments);
  g_variant_lookup (status, "in-flight", "u", &in_flight);
  g_variant_lookup (status, "requests", "t", &requests);
  g_variant_lookup (status, "uptime", "t", &uptime);
  config_error = lookup_string (status, "config-error");

  g_print ("%s %s\n", _ ("litellmctl daemon"), lookup_string (status, "version"));
  g_print ("  %-10s %s\n", _ ("Address:"), lookup_string (status, "address"));
  g_print ("  %-10s %s\n", _ ("Config:"), lookup_string (status, "config-path"));
  g_print ("  %-10s %u (%u deployments)\n", _ ("Models:"), models, deployments);
  g_print ("  %-10s %" G_GUINT64_FORMAT " (%u in flight)\n", _ ("Requests:"), requests, in_flight);
  g_print ("  %-10s %" G_GUINT64_FORMAT "h %" G_GUINT64_FORMAT "m %" G_GUINT64_FORMAT "s\n",
           _ ("Uptime:"), uptime / 3600, uptime / 60 % 60, uptime % 60);
  if (*config_error != '\0')
    g_print ("  %-10s %s\n", _ ("Config error (old config still serving):"), config_error);
  print_health (manager);
  return LCTL_EXIT_OK;
}

/* -------------------------------------------------------------------- */
/* models                                                                */

static int
run_models (int argc, char **argv)
{
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GVariant) models = NULL;
  g_autoptr (GError) error = NULL;
  gboolean     json = FALSE;
  GVariantIter iter;
  GVariant    *model;

  if (!parse_json_flag (&argc, &argv, "models", &json))
    return LCTL_EXIT_USAGE;
  if ((manager = lctl_cli_get_manager (TRUE)) == NULL)
    return LCTL_EXIT_FAILURE;
  if (!lctl_dbus_manager_call_list_models_sync (manager, &models, NULL, &error))
    {
      lctl_cli_print_error (_ ("cannot list models"), error);
      return LCTL_EXIT_FAILURE;
    }

  if (json)
    {
      print_json_variant (models);
      return LCTL_EXIT_OK;
    }

  g_print ("%-36s %-12s %-32s %s\n", _ ("MODEL"), _ ("PROVIDER"), _ ("UPSTREAM"), _ ("STATE"));
  g_variant_iter_init (&iter, models);
  while ((model = g_variant_iter_next_value (&iter)) != NULL)
    {
      gint64           until = 0;
      g_autofree char *state = g_strdup (lookup_string (model, "state"));

      g_variant_lookup (model, "cooldown-until", "x", &until);
      if (until > 0)
        {
          g_autofree char *formatted = format_until (until);
          g_autofree char *with_time = g_strdup_printf ("%s until %s", state, formatted);

          g_free (state);
          state = g_steal_pointer (&with_time);
        }
      g_print ("%-36s %-12s %-32s %s\n", lookup_string (model, "name"), lookup_string (model, "provider"),
               lookup_string (model, "model"), state);
      g_variant_unref (model);
    }
  return LCTL_EXIT_OK;
}

/* -------------------------------------------------------------------- */
/* reload                                                                */

static int
run_reload (int argc, char **argv)
{
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GError) error = NULL;

  if (argc > 1)
    {
      g_printerr (_ ("litellmctl reload: unexpected argument “%s”\n"), argv[1]);
      return LCTL_EXIT_USAGE;
    }
  if ((manager = lctl_cli_get_manager (TRUE)) == NULL)
    return LCTL_EXIT_FAILURE;
  if (!lctl_dbus_manager_call_reload_sync (manager, NULL, &error))
    {
      lctl_cli_print_error (_ ("configuration not reloaded, the previous one keeps serving"), error);
      return LCTL_EXIT_FAILURE;
    }
  g_print (_ ("Configuration reloaded.\n"));
  return LCTL_EXIT_OK;
}

/* -------------------------------------------------------------------- */
/* proxy                                                                 */

static char *
find_daemon (void)
{
  const char      *env = g_getenv ("LITELLMCTL_DAEMON");
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *daemon_dir = g_path_get_dirname (BUILD_DAEMON_PATH);
  g_autofree char *src_dir = g_path_get_dirname (daemon_dir);
  g_autofree char *build_root = g_path_get_dirname (src_dir);

  if (env != NULL && *env != '\0')
    return g_strdup (env);

  /* An uninstalled CLI runs the daemon built beside it. */
  if (self_path != NULL && g_str_has_prefix (self_path, build_root) &&
      g_file_test (BUILD_DAEMON_PATH, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup (BUILD_DAEMON_PATH);
  return g_build_filename (LIBEXECDIR, "litellmctld", NULL);
}

static int
run_proxy (int argc, char **argv)
{
  g_autofree char *config = NULL;
  g_autofree char *host = NULL;
  int              port = -1;
  gboolean         verbose = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) daemon_argv = g_ptr_array_new_with_free_func (g_free);
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, N_ ("Configuration file"), N_ ("FILE") },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, N_ ("Port (default $LITELLMCTL_PORT or 4000)"), N_ ("PORT") },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, N_ ("Address (default 127.0.0.1)"), N_ ("HOST") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_ ("Print debug messages"), NULL },
    { NULL }
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _ ("Runs the proxy daemon in the foreground, logging to stderr. "
                                            "A daemon already running on the session bus is replaced."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("litellmctl proxy: %s\n", error->message);
      return LCTL_EXIT_USAGE;
    }
  if (argc > 1)
    {
      g_printerr (_ ("litellmctl proxy: unexpected argument “%s”\n"), argv[1]);
      return LCTL_EXIT_USAGE;
    }
  if (port > 65535 || port < -1)
    {
      g_printerr (_ ("litellmctl proxy: --port must be between 0 and 65535\n"));
      return LCTL_EXIT_USAGE;
    }

  g_ptr_array_add (daemon_argv, find_daemon ());
  if (config != NULL)
    {
      g_ptr_array_add (daemon_argv, g_strdup ("--config"));
      g_ptr_array_add (daemon_argv, g_canonicalize_filename (config, NULL));
    }
  if (port >= 0)
    g_ptr_array_add (daemon_argv, g_strdup_printf ("--port=%d", port));
  if (host != NULL)
    g_ptr_array_add (daemon_argv, g_strdup_printf ("--host=%s", host));
  if (verbose)
    g_ptr_array_add (daemon_argv, g_strdup ("--verbose"));
  g_ptr_array_add (daemon_argv, g_strdup ("--replace"));
  g_ptr_array_add (daemon_argv, NULL);

  g_printerr (_ ("Starting the litellmctl proxy in the foreground (Ctrl+C to stop)…\n"));
  execv (daemon_argv->pdata[0], (char **) daemon_argv->pdata);
  g_printerr (_ ("litellmctl proxy: cannot run %s: %s\n"), (char *) daemon_argv->pdata[0], g_strerror (errno));
  return LCTL_EXIT_FAILURE;
}

/* -------------------------------------------------------------------- */
/* cooldowns                                                             */

static int
run_cooldowns (int argc, char **argv)
{
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) models = NULL;
  GVariantIter iter;
  GVariant    *model;
  unsigned     listed = 0;

  if (argc > 3 || (argc >= 2 && !g_str_equal (argv[1], "reset")))
    {
      g_printerr (_ ("Usage: litellmctl cooldowns [reset [MODEL]]\n"));
      return LCTL_EXIT_USAGE;
    }
  if ((manager = lctl_cli_get_manager (TRUE)) == NULL)
    return LCTL_EXIT_FAILURE;

  if (argc >= 2)
    {
      const char *model_name = argc == 3 ? argv[2] : "";

      if (!lctl_dbus_manager_call_reset_cooldowns_sync (manager, model_name, NULL, &error))
        {
          lctl_cli_print_error (_ ("cannot reset cooldowns"), error);
          return LCTL_EXIT_FAILURE;
        }
      if (*model_name != '\0')
        g_print (_ ("Cooldowns of %s cleared.\n"), model_name);
      else
        g_print (_ ("All cooldowns cleared.\n"));
      return LCTL_EXIT_OK;
    }

  if (!lctl_dbus_manager_call_list_models_sync (manager, &models, NULL, &error))
    {
      lctl_cli_print_error (_ ("cannot list models"), error);
      return LCTL_EXIT_FAILURE;
    }
  g_variant_iter_init (&iter, models);
  while ((model = g_variant_iter_next_value (&iter)) != NULL)
    {
      gint64 until = 0;

      g_variant_lookup (model, "cooldown-until", "x", &until);
      if (until > 0)
        {
          g_autofree char *when = format_until (until);

          g_print ("%-36s %-32s %s %s\n", lookup_string (model, "name"), lookup_string (model, "model"),
                   _ ("until"), when);
          listed++;
        }
      g_variant_unref (model);
    }
  if (listed == 0)
    g_print (_ ("No deployment is cooling down.\n"));
  return LCTL_EXIT_OK;
}

static int
run_auth (int argc, char **argv)
{
  /* `auth help` works without a bus; the command says when it needs one. */
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

  return lctl_cmd_auth (bus, argc, argv);
}

/* -------------------------------------------------------------------- */
/* start / stop / restart / logs                                         */

static gboolean
systemd_user_available (void)
{
  g_autofree char *systemctl = g_find_program_in_path ("systemctl");
  int              status = 0;
  const char      *check[] = { "systemctl", "--user", "is-system-running", NULL };

  if (systemctl == NULL)
    return FALSE;
  if (!g_spawn_sync (NULL, (char **) check, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL))
    return FALSE;
  /* "degraded" exits non-zero but the user manager answers. */
  return WIFEXITED (status) && WEXITSTATUS (status) <= 1;
}

static int
spawn_and_wait (const char *const *command)
{
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) command, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN,
                     NULL, NULL, NULL, NULL, &status, &error))
    {
      g_printerr ("litellmctl: %s: %s\n", command[0], error->message);
      return LCTL_EXIT_FAILURE;
    }
  return g_spawn_check_wait_status (status, NULL) ? LCTL_EXIT_OK : LCTL_EXIT_FAILURE;
}

static int
run_start (int argc, char **argv)
{
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) status = NULL;

  if (argc > 1)
    {
      g_printerr (_ ("litellmctl start: unexpected argument “%s”\n"), argv[1]);
      return LCTL_EXIT_USAGE;
    }

  if (systemd_user_available ())
    {
      const char *enable[] = { "systemctl", "--user", "enable", "--now", "litellmctl.service", NULL };

      if (spawn_and_wait (enable) != LCTL_EXIT_OK)
        return LCTL_EXIT_FAILURE;
    }

  /* Without systemd, D-Bus activation starts it for this session. */
  if ((manager = lctl_cli_get_manager (TRUE)) == NULL)
    return LCTL_EXIT_FAILURE;
  if (!lctl_dbus_manager_call_get_status_sync (manager, &status, NULL, &error))
    {
      lctl_cli_print_error (_ ("cannot start the daemon"), error);
      return LCTL_EXIT_FAILURE;
    }
  g_print (_ ("litellmctl is serving on %s\n"), lookup_string (status, "address"));
  return LCTL_EXIT_OK;
}

static int
run_stop (int argc, char **argv)
{
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GError) error = NULL;

  if (argc > 1)
    {
      g_printerr (_ ("litellmctl stop: unexpected argument “%s”\n"), argv[1]);
      return LCTL_EXIT_USAGE;
    }
  if (systemd_user_available ())
    {
      const char *stop[] = { "systemctl", "--user", "stop", "litellmctl.service", NULL };

      spawn_and_wait (stop);
    }
  if ((manager = lctl_cli_get_manager (FALSE)) == NULL)
    return LCTL_EXIT_FAILURE;
  if (!lctl_dbus_manager_call_quit_sync (manager, NULL, &error))
    {
      if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
          g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
        {
          g_print (_ ("litellmctl is not running.\n"));
          return LCTL_EXIT_OK;
        }
      lctl_cli_print_error (_ ("cannot stop the daemon"), error);
      return LCTL_EXIT_FAILURE;
    }
  g_print (_ ("litellmctl stopped.\n"));
  return LCTL_EXIT_OK;
}

static int
run_restart (int argc, char **argv)
{
  int status = run_stop (argc, argv);

  if (status != LCTL_EXIT_OK)
    return status;
  /* Give the old instance a moment to release the port; the new one retries
   * binding anyway. */
  g_usleep (200 * 1000);
  return run_start (argc, argv);
}

static int
run_logs (int argc, char **argv)
{
  const char      *journal[] = { "journalctl", "--user", "-u", "litellmctl.service", "-f", "-n", "100", NULL };
  g_autofree char *journalctl = g_find_program_in_path ("journalctl");

  if (journalctl == NULL || !systemd_user_available ())
    {
      g_printerr (_ ("litellmctl logs: no systemd journal here. A D-Bus-activated daemon logs to the "
                     "session bus's output; run “litellmctl proxy” to see the logs on this terminal.\n"));
      return LCTL_EXIT_FAILURE;
    }
  return spawn_and_wait (journal);
}

/* -------------------------------------------------------------------- */

static const LctlCommand commands[] = {
  { "status", "status [--json]", N_ ("Daemon address, configuration and model count"), run_status },
  { "models", "models [--json]", N_ ("Model groups and deployments with their state"), run_models },
  { "reload", "reload", N_ ("Re-read the configuration (the old one keeps serving if the new one is invalid)"), run_reload },
  { "cooldowns", "cooldowns [reset [MODEL]]", N_ ("Deployments taken out of rotation after failures; reset puts them back"), run_cooldowns },
  { "auth", "auth PROVIDER|status|refresh|logout|export|import", N_ ("OAuth logins and tokens (litellmctl auth help)"), run_auth },
  { "proxy", "proxy [--port N] [--config F] [--host H] [--verbose]", N_ ("Run the proxy in the foreground, logging to stderr"), run_proxy },
  { "start", "start", N_ ("Start the daemon (enables the systemd user unit when there is one)"), run_start },
  { "stop", "stop", N_ ("Stop the daemon"), run_stop },
  { "restart", "restart", N_ ("Stop, then start the daemon"), run_restart },
  { "logs", "logs", N_ ("Follow the daemon's log in the journal"), run_logs },
  { "help", "help", N_ ("Show this help"), run_help },
};

static int
run_help (int argc, char **argv)
{
  g_print (_ ("Usage: litellmctl COMMAND [OPTIONS]\n\n"
              "Control the litellmctl LLM proxy for coding agents.\n\n"
              "Commands:\n"));
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    g_print ("  %-52s %s\n", commands[i].synopsis, _ (commands[i].description));
  g_print (_ ("\nOptions:\n"
              "  --version                                            Print the version\n"
              "  -h, --help                                           Show this help\n\n"
              "Exit status: 0 success, 1 failure, 2 usage error.\n"
              "See litellmctl(1) for files and environment variables.\n"));
  return LCTL_EXIT_OK;
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("litellmctl");

  if (argc < 2)
    return run_help (argc, argv);
  if (g_str_equal (argv[1], "--version") || g_str_equal (argv[1], "-V"))
    {
      g_print ("litellmctl %s\n", PACKAGE_VERSION);
      return LCTL_EXIT_OK;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    return run_help (argc, argv);

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].run (argc - 1, argv + 1);

  g_printerr (_ ("litellmctl: unknown command “%s”\n\n"), argv[1]);
  run_help (argc, argv);
  return LCTL_EXIT_USAGE;
}
