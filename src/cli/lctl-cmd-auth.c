/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "litellmctl"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "lctl-cmd-auth.h"
#include "lctl-dbus-generated.h"
#include "lctl-error.h"
#include "lctl-oauth-provider.h"
#include "lctl-oauth-util.h"

/* `litellmctl auth …`: drives logins and the credential store through the
 * daemon's io.github.litellmctl.Accounts interface. Everything is async on
 * one main loop, so the command also works against a service living in the
 * same process (tests). */

enum
{
  EXIT_OK = 0,
  EXIT_FAILURE_ = 1,
  EXIT_USAGE = 2,
  EXIT_ABORTED = 130,
};

typedef struct
{
  GMainLoop        *loop;
  int               status;
  GDBusConnection  *bus;
  LctlDBusAccounts *proxy;
  GCancellable     *cancellable;
  int               argc;
  char            **argv;

  /* login */
  const LctlOAuthProvider *provider;
  gboolean                 headless;
  gboolean                 no_browser;
  char                    *flow_id;
  GPtrArray               *early_signals;
  gint64                   expires_at;
  guint                    countdown_id;
  gboolean                 countdown_shown;
  GDataInputStream        *stdin_lines;
  gboolean                 reading_stdin;
  gboolean                 at_prompt;
  guint                    sigint_id;

  /* import */
  GString      *input;
  guint         silence_id;
  GInputStream *input_stream;
  char          input_buffer[4096];

  /* export */
  char *script;
  guint n_exported;
} AuthCmd;

static const char usage_text[] = "Usage: litellmctl auth COMMAND\n"
                                 "\n"
                                 "Log in:\n"
                                 "  chatgpt | codex | openai          ChatGPT / Codex (browser, PKCE)\n"
                                 "  gemini | gemini_cli | gemini-cli  Gemini CLI (browser, PKCE)\n"
                                 "  qwen | qwen_portal | qwen-portal  Qwen Portal (device code)\n"
                                 "  kimi | kimi_code | kimi-code      Kimi Code (device code)\n"
                                 "    --headless     print the URL and read a pasted redirect URL\n"
                                 "    --no-browser   do not open a browser\n"
                                 "\n"
                                 "Manage:\n"
                                 "  status                 stored credentials, expiry and store backend\n"
                                 "  refresh PROVIDER       refresh a token now\n"
                                 "  logout PROVIDER        delete a credential\n"
                                 "  export [PROVIDER…]     a bash script that restores them on another machine\n"
                                 "  import [--from DIR]    read such a script (or the old tool's) from stdin,\n"
                                 "                         or the old tool's auth.*.json files from DIR\n"
                                 "  providers              list provider keys and names\n";

static int
usage_error (const char *message)
{
  if (message != NULL)
    g_printerr ("Error: %s\n\n", message);
  g_printerr ("%s", usage_text);
  return EXIT_USAGE;
}

static void
finish (AuthCmd *cmd,
        int      status)
{
  cmd->status = status;
  g_main_loop_quit (cmd->loop);
}

/* The paste prompt leaves the cursor after "…callback): "; anything else
 * printed meanwhile starts on a fresh line. */
static void
leave_prompt (AuthCmd *cmd)
{
  if (cmd->at_prompt)
    g_print ("\n");
  cmd->at_prompt = FALSE;
}

static void
fail_with (AuthCmd      *cmd,
           const GError *error)
{
  g_autoptr (GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  if (g_dbus_error_is_remote_error (error) || error->domain == G_DBUS_ERROR)
    {
      if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
        {
          g_printerr ("Error: the litellmctl daemon is not reachable on the session bus (%s)\n", copy->message);
          finish (cmd, EXIT_FAILURE_);
          return;
        }
    }
  g_printerr ("Error: %s\n", copy->message);
  finish (cmd, EXIT_FAILURE_);
}

static char *
format_expiry (gint64   expires_at,
               gboolean short_form)
{
  gint64 remaining;

  if (expires_at <= 0)
    return g_strdup ("unknown");
  remaining = expires_at - g_get_real_time () / G_USEC_PER_SEC;
  if (remaining <= 0)
    return g_strdup ("EXPIRED");
  return g_strdup_printf ("%" G_GINT64_FORMAT "h %" G_GINT64_FORMAT "m %s", remaining / 3600,
                          (remaining % 3600) / 60, short_form ? "left" : "remaining");
}

static const char *
dict_string (GVariant   *dict,
             const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (dict, key, "&s", &value) || value == NULL || *value == '\0')
    return NULL;
  return value;
}

static void
print_account (GVariant *dict)
{
  const char      *label = dict_string (dict, "label");
  const char      *email = dict_string (dict, "email");
  const char      *account_id = dict_string (dict, "account-id");
  const char      *project = dict_string (dict, "project");
  const char      *backend = dict_string (dict, "backend");
  const char      *reason = dict_string (dict, "needs-login-reason");
  gint64           expires_at = 0;
  gboolean         needs_login = FALSE;
  g_autofree char *expiry = NULL;

  g_variant_lookup (dict, "expires-at", "x", &expires_at);
  g_variant_lookup (dict, "needs-login", "b", &needs_login);
  expiry = format_expiry (expires_at, FALSE);
  g_print ("  Provider:   %s\n", label != NULL ? label : "?");
  if (email != NULL)
    g_print ("  Email:      %s\n", email);
  if (account_id != NULL)
    g_print ("  Account:    %s\n", account_id);
  if (project != NULL)
    g_print ("  Project:    %s\n", project);
  g_print ("  Expires:    %s\n", expiry);
  g_print ("  Backend:    %s\n", backend != NULL ? backend : "?");
  if (needs_login)
    g_print ("  Status:     NEEDS LOGIN%s%s\n", reason != NULL ? " — " : "", reason != NULL ? reason : "");
}

static GVariant *
find_account (GVariant   *accounts,
              const char *provider)
{
  GVariantIter iter;
  GVariant    *dict;

  g_variant_iter_init (&iter, accounts);
  while ((dict = g_variant_iter_next_value (&iter)) != NULL)
    {
      if (g_strcmp0 (dict_string (dict, "provider"), provider) == 0)
        return dict;
      g_variant_unref (dict);
    }
  return NULL;
}

/* ---- status ---- */

static void
status_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) accounts = NULL;
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  if (!lctl_dbus_accounts_call_list_accounts_finish (cmd->proxy, &accounts, result, &error))
    {
      fail_with (cmd, error);
      return;
    }
  g_print ("litellmctl auth status\n");
  g_print ("════════════════════════════════════════\n\n");
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) dict = find_account (accounts, providers[i].id);

      g_print ("%s\n", providers[i].label);
      if (dict == NULL)
        g_print ("  Not authenticated\n");
      else
        print_account (dict);
      g_print ("\n");
    }
  finish (cmd, EXIT_OK);
}

/* ---- refresh, logout ---- */

static void
refresh_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  gint64           expires_at = 0;
  g_autofree char *expiry = NULL;

  if (!lctl_dbus_accounts_call_refresh_finish (cmd->proxy, &expires_at, result, &error))
    {
      fail_with (cmd, error);
      return;
    }
  expiry = format_expiry (expires_at, FALSE);
  g_print ("✓ Refreshed %s (expires: %s)\n", cmd->provider->label, expiry);
  finish (cmd, EXIT_OK);
}

static void
logout_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_dbus_accounts_call_logout_finish (cmd->proxy, result, &error))
    {
      fail_with (cmd, error);
      return;
    }
  g_print ("✓ Logged out of %s\n", cmd->provider->label);
  finish (cmd, EXIT_OK);
}

/* ---- export ---- */

static void
print_script (AuthCmd *cmd,
              gboolean decorated)
{
  if (decorated)
    g_print ("Paste this on the target machine:\n"
             "────────────────────────────────────────\n");
  fputs (cmd->script, stdout);
  if (decorated)
    g_print ("────────────────────────────────────────\n");
}

static void
clipboard_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &error))
    {
      g_printerr ("Could not copy to the clipboard (%s)\n", error->message);
      print_script (cmd, TRUE);
    }
  else
    g_print ("✓ Copied transfer script to clipboard (%u credential(s))\n"
             "  Paste it into a terminal on the target machine.\n",
             cmd->n_exported);
  finish (cmd, EXIT_OK);
}

static gboolean
copy_to_clipboard (AuthCmd *cmd)
{
  const char *const       *argv = NULL;
  static const char *const wl[] = { "wl-copy", NULL };
  static const char *const xclip[] = { "xclip", "-selection", "clipboard", NULL };
  static const char *const xsel[] = { "xsel", "--clipboard", "--input", NULL };
  g_autofree char         *path = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOutputStream) in = NULL;

  if (g_getenv ("WAYLAND_DISPLAY") != NULL && (path = g_find_program_in_path ("wl-copy")) != NULL)
    argv = wl;
  else if (g_getenv ("DISPLAY") != NULL && (path = g_find_program_in_path ("xclip")) != NULL)
    argv = xclip;
  else if (g_getenv ("DISPLAY") != NULL && (path = g_find_program_in_path ("xsel")) != NULL)
    argv = xsel;
  if (argv == NULL)
    return FALSE;
  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE, &error);
  if (proc == NULL)
    return FALSE;
  /* A pipe write of one script: small, and the clipboard tool reads it. */
  in = g_object_ref (g_subprocess_get_stdin_pipe (proc));
  if (!g_output_stream_write_all (in, cmd->script, strlen (cmd->script), NULL, NULL, &error) || !g_output_stream_close (in, NULL, &error))
    {
      g_subprocess_force_exit (proc);
      return FALSE;
    }
  g_subprocess_wait_check_async (proc, cmd->cancellable, clipboard_cb, cmd);
  return TRUE;
}

static void
export_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  gboolean print_only = FALSE;

  if (!lctl_dbus_accounts_call_export_finish (cmd->proxy, &cmd->script, result, &error))
    {
      fail_with (cmd, error);
      return;
    }
  for (const char *p = cmd->script; (p = strstr (p, "\n  '")) != NULL; p++)
    cmd->n_exported++;
  for (int i = 2; i < cmd->argc; i++)
    if (g_str_equal (cmd->argv[i], "--print"))
      print_only = TRUE;
  /* Redirected output (`auth export > file`) gets the bare script. */
  if (print_only || !isatty (STDOUT_FILENO))
    {
      print_script (cmd, FALSE);
      finish (cmd, EXIT_OK);
      return;
    }
  if (!copy_to_clipboard (cmd))
    {
      print_script (cmd, TRUE);
      finish (cmd, EXIT_OK);
    }
}

static int
start_export (AuthCmd *cmd)
{
  g_autoptr (GPtrArray) providers = g_ptr_array_new ();

  for (int i = 2; i < cmd->argc; i++)
    {
      const LctlOAuthProvider *provider;

      if (g_str_equal (cmd->argv[i], "--print"))
        continue;
      provider = lctl_oauth_provider_lookup (cmd->argv[i]);
      if (provider == NULL)
        {
          g_autofree char *message = g_strdup_printf ("Unknown provider “%s”", cmd->argv[i]);

          return usage_error (message);
        }
      g_ptr_array_add (providers, (gpointer) provider->id);
    }
  g_ptr_array_add (providers, NULL);
  lctl_dbus_accounts_call_export (cmd->proxy, (const char *const *) providers->pdata, cmd->cancellable,
                                  export_cb, cmd);
  return -1;
}

/* ---- import ---- */

static void
import_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) imported = NULL;

  if (!lctl_dbus_accounts_call_import_finish (cmd->proxy, &imported, result, &error))
    {
      fail_with (cmd, error);
      return;
    }
  for (char **p = imported; *p != NULL; p++)
    {
      const LctlOAuthProvider *provider = lctl_oauth_provider_lookup (*p);

      g_print ("  ✓ %s\n", provider != NULL ? provider->label : *p);
    }
  g_print ("✓ Imported %u credential(s)\n", g_strv_length (imported));
  finish (cmd, EXIT_OK);
}

static void
send_import (AuthCmd *cmd)
{
  g_clear_handle_id (&cmd->silence_id, g_source_remove);
  if (cmd->input->len == 0)
    {
      g_printerr ("No credentials imported (empty input).\n");
      finish (cmd, EXIT_FAILURE_);
      return;
    }
  lctl_dbus_accounts_call_import (cmd->proxy, cmd->input->str, cmd->cancellable, import_cb, cmd);
}

static gboolean
silence_cb (gpointer user_data)
{
  AuthCmd *cmd = user_data;

  cmd->silence_id = 0;
  g_cancellable_cancel (cmd->cancellable);
  g_clear_object (&cmd->cancellable);
  cmd->cancellable = g_cancellable_new ();
  send_import (cmd);
  return G_SOURCE_REMOVE;
}

static void
input_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail_with (cmd, error);
      return;
    }
  if (n == 0)
    {
      send_import (cmd);
      return;
    }
  g_string_append_len (cmd->input, cmd->input_buffer, n);
  /* A terminal paste has no EOF: 0.5 s of silence after data ends it. */
  if (isatty (STDIN_FILENO))
    {
      g_clear_handle_id (&cmd->silence_id, g_source_remove);
      cmd->silence_id = g_timeout_add (500, silence_cb, cmd);
    }
  g_input_stream_read_async (cmd->input_stream, cmd->input_buffer, sizeof cmd->input_buffer,
                             G_PRIORITY_DEFAULT, cmd->cancellable, input_read_cb, cmd);
}

static int
import_from_dir (AuthCmd    *cmd,
                 const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  const char *name;

  if (d == NULL)
    {
      g_printerr ("Error: %s\n", error->message);
      return EXIT_FAILURE_;
    }
  /* The old tool's files, as `auth.<p>.json <base64>` lines: one format
   * the daemon's import understands. */
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      g_autofree char *b64 = NULL;
      gsize            len = 0;

      const char *as = name;

      /* Also the official CLIs' own files: Qwen Code's ~/.qwen and
       * kimi-cli's ~/.kimi/credentials. */
      if (g_str_equal (name, "oauth_creds.json"))
        as = "auth.qwen_portal.json";
      else if (g_str_equal (name, "kimi-code.json"))
        as = "auth.kimi_code.json";
      else if (!g_str_has_prefix (name, "auth.") || !g_str_has_suffix (name, ".json"))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (!g_file_get_contents (path, &contents, &len, &error))
        {
          g_printerr ("Skipping %s: %s\n", path, error->message);
          g_clear_error (&error);
          continue;
        }
      b64 = g_base64_encode ((const guchar *) contents, len);
      g_string_append_printf (cmd->input, "%s %s\n", as, b64);
      explicit_bzero (contents, len);
    }
  if (cmd->input->len == 0)
    {
      g_printerr ("Error: no credential files (auth.*.json, oauth_creds.json, kimi-code.json) in %s\n", dir);
      return EXIT_FAILURE_;
    }
  send_import (cmd);
  return -1;
}

static int
start_import (AuthCmd *cmd)
{
  cmd->input = g_string_new (NULL);
  for (int i = 2; i < cmd->argc; i++)
    {
      if (g_str_equal (cmd->argv[i], "--from") && i + 1 < cmd->argc)
        return import_from_dir (cmd, cmd->argv[i + 1]);
      if (g_str_has_prefix (cmd->argv[i], "--from="))
        return import_from_dir (cmd, cmd->argv[i] + strlen ("--from="));
      return usage_error ("import takes no arguments besides --from DIR");
    }
  if (isatty (STDIN_FILENO))
    g_print ("Import credentials\nPaste the export script below:\n");
  cmd->input_stream = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_input_stream_read_async (cmd->input_stream, cmd->input_buffer, sizeof cmd->input_buffer,
                             G_PRIORITY_DEFAULT, cmd->cancellable, input_read_cb, cmd);
  return -1;
}

/* ---- login ---- */

static void
end_countdown (AuthCmd *cmd)
{
  g_clear_handle_id (&cmd->countdown_id, g_source_remove);
  if (cmd->countdown_shown)
    g_print ("\n");
  cmd->countdown_shown = FALSE;
}

static gboolean
countdown_cb (gpointer user_data)
{
  AuthCmd *cmd = user_data;
  gint64   left = cmd->expires_at - g_get_real_time () / G_USEC_PER_SEC;

  if (left < 0)
    left = 0;
  g_print ("\r  Waiting for authorization… %" G_GINT64_FORMAT "m %02" G_GINT64_FORMAT "s left ",
           left / 60, left % 60);
  fflush (stdout);
  cmd->countdown_shown = TRUE;
  return G_SOURCE_CONTINUE;
}

static void read_pasted_line (AuthCmd *cmd);

static void
complete_login_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_dbus_accounts_call_complete_login_finish (cmd->proxy, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_dbus_error_strip_remote_error (error);
      leave_prompt (cmd);
      g_print ("  %s\n", error->message);
      read_pasted_line (cmd);
    }
}

static void
pasted_line_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                                     NULL, &error);

  cmd->at_prompt = FALSE;
  if (line == NULL)
    {
      /* EOF or cancelled: keep waiting for the callback alone. */
      cmd->reading_stdin = FALSE;
      return;
    }
  g_strstrip (line);
  if (*line == '\0')
    {
      read_pasted_line (cmd);
      return;
    }
  lctl_dbus_accounts_call_complete_login (cmd->proxy, cmd->flow_id, line, cmd->cancellable,
                                          complete_login_cb, cmd);
}

static void
read_pasted_line (AuthCmd *cmd)
{
  if (cmd->stdin_lines == NULL)
    {
      g_autoptr (GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);

      cmd->stdin_lines = g_data_input_stream_new (in);
    }
  cmd->reading_stdin = TRUE;
  leave_prompt (cmd);
  g_print ("Redirect URL (or wait for callback): ");
  fflush (stdout);
  cmd->at_prompt = TRUE;
  g_data_input_stream_read_line_async (cmd->stdin_lines, G_PRIORITY_DEFAULT, cmd->cancellable,
                                       pasted_line_cb, cmd);
}

static void
handle_prompt (AuthCmd  *cmd,
               GVariant *prompt)
{
  const char *url = dict_string (prompt, "url");
  const char *user_code = dict_string (prompt, "user-code");
  guint32     port = 0;

  g_variant_lookup (prompt, "expires-at", "x", &cmd->expires_at);
  g_variant_lookup (prompt, "callback-port", "u", &port);
  if (user_code != NULL)
    g_print ("\n  Your code: %s\n", user_code);
  g_print ("\n  Open this URL in your browser:\n  %s\n\n", url != NULL ? url : "?");
  if (!cmd->headless && !cmd->no_browser && url != NULL)
    {
      g_autoptr (GError) error = NULL;

      if (!g_app_info_launch_default_for_uri (url, NULL, &error))
        g_print ("  (Could not open a browser: %s)\n", error->message);
    }
  if (cmd->provider->flow == LCTL_OAUTH_FLOW_DEVICE)
    {
      if (isatty (STDOUT_FILENO) && cmd->expires_at > 0)
        {
          countdown_cb (cmd);
          cmd->countdown_id = g_timeout_add_seconds (1, countdown_cb, cmd);
        }
      return;
    }
  if (cmd->headless)
    {
      g_print ("  After signing in, the browser is sent to http://localhost:%u/… which fails\n"
               "  on this host. Either:\n"
               "    A) paste that full redirect URL below, or\n"
               "    B) tunnel the port first: ssh -L %u:localhost:%u <this-host>\n\n",
               port, port, port);
      read_pasted_line (cmd);
    }
  else
    g_print ("  Sign in, then come back here. Waiting for the callback on localhost:%u...\n", port);
}

static void
handle_progress (AuthCmd    *cmd,
                 const char *message)
{
  /* With a live countdown on the line, progress would garble it; our own
   * instructions already say we wait for the callback. */
  if (cmd->countdown_id != 0 || (cmd->reading_stdin && g_str_has_prefix (message, "Waiting for the callback")))
    return;
  leave_prompt (cmd);
  g_print ("  %s\n", message);
}

static void
finished_list_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GVariant) accounts = NULL;
  g_autoptr (GVariant) dict = NULL;

  if (lctl_dbus_accounts_call_list_accounts_finish (cmd->proxy, &accounts, result, NULL) && (dict = find_account (accounts, cmd->provider->id)) != NULL)
    {
      g_print ("\n");
      print_account (dict);
    }
  finish (cmd, EXIT_OK);
}

static void
handle_finished (AuthCmd    *cmd,
                 gboolean    success,
                 const char *message)
{
  end_countdown (cmd);
  leave_prompt (cmd);
  g_cancellable_cancel (cmd->cancellable);
  g_clear_object (&cmd->cancellable);
  cmd->cancellable = g_cancellable_new ();
  if (!success)
    {
      g_printerr ("Error: %s\n", message);
      finish (cmd, EXIT_FAILURE_);
      return;
    }
  if (g_strcmp0 (message, "default") == 0 || message == NULL || *message == '\0')
    g_print ("✓ Logged in to %s\n", cmd->provider->label);
  else
    g_print ("✓ Logged in to %s as %s\n", cmd->provider->label, message);
  lctl_dbus_accounts_call_list_accounts (cmd->proxy, cmd->cancellable, finished_list_cb, cmd);
}

typedef struct
{
  char     *flow_id;
  int       kind;
  GVariant *prompt;
  char     *message;
  gboolean  success;
} EarlySignal;

static void
early_signal_free (EarlySignal *s)
{
  g_free (s->flow_id);
  g_clear_pointer (&s->prompt, g_variant_unref);
  g_free (s->message);
  g_free (s);
}

static void
dispatch_signal (AuthCmd     *cmd,
                 EarlySignal *s)
{
  if (cmd->flow_id == NULL)
    {
      EarlySignal *copy = g_new0 (EarlySignal, 1);

      copy->flow_id = g_strdup (s->flow_id);
      copy->kind = s->kind;
      copy->prompt = s->prompt != NULL ? g_variant_ref (s->prompt) : NULL;
      copy->message = g_strdup (s->message);
      copy->success = s->success;
      g_ptr_array_add (cmd->early_signals, copy);
      return;
    }
  if (g_strcmp0 (cmd->flow_id, s->flow_id) != 0)
    return;
  if (s->kind == 0)
    handle_prompt (cmd, s->prompt);
  else if (s->kind == 1)
    handle_progress (cmd, s->message);
  else
    handle_finished (cmd, s->success, s->message);
}

static void
login_prompt_cb (LctlDBusAccounts *proxy,
                 const char       *flow_id,
                 GVariant         *prompt,
                 AuthCmd          *cmd)
{
  EarlySignal s = { (char *) flow_id, 0, prompt, NULL, FALSE };

  dispatch_signal (cmd, &s);
}

static void
login_progress_cb (LctlDBusAccounts *proxy,
                   const char       *flow_id,
                   const char       *message,
                   AuthCmd          *cmd)
{
  EarlySignal s = { (char *) flow_id, 1, NULL, (char *) message, FALSE };

  dispatch_signal (cmd, &s);
}

static void
login_finished_cb (LctlDBusAccounts *proxy,
                   const char       *flow_id,
                   gboolean          success,
                   const char       *message,
                   AuthCmd          *cmd)
{
  EarlySignal s = { (char *) flow_id, 2, NULL, (char *) message, success };

  dispatch_signal (cmd, &s);
}

static void
begin_login_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) early = NULL;

  if (!lctl_dbus_accounts_call_begin_login_finish (cmd->proxy, &cmd->flow_id, result, &error))
    {
      fail_with (cmd, error);
      return;
    }
  early = g_steal_pointer (&cmd->early_signals);
  cmd->early_signals = g_ptr_array_new_with_free_func ((GDestroyNotify) early_signal_free);
  for (guint i = 0; i < early->len; i++)
    dispatch_signal (cmd, early->pdata[i]);
}

static void
cancel_login_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AuthCmd *cmd = user_data;

  lctl_dbus_accounts_call_cancel_login_finish (cmd->proxy, result, NULL);
  finish (cmd, EXIT_ABORTED);
}

static gboolean
sigint_cb (gpointer user_data)
{
  AuthCmd *cmd = user_data;

  cmd->sigint_id = 0;
  end_countdown (cmd);
  g_printerr ("\nAborted.\n");
  if (cmd->flow_id == NULL)
    {
      finish (cmd, EXIT_ABORTED);
      return G_SOURCE_REMOVE;
    }
  lctl_dbus_accounts_call_cancel_login (cmd->proxy, cmd->flow_id, NULL, cancel_login_cb, cmd);
  return G_SOURCE_REMOVE;
}

static int
start_login (AuthCmd *cmd)
{
  GVariantDict options;
  const char  *title;

  for (int i = 2; i < cmd->argc; i++)
    {
      if (g_str_equal (cmd->argv[i], "--headless"))
        cmd->headless = TRUE;
      else if (g_str_equal (cmd->argv[i], "--no-browser"))
        cmd->no_browser = TRUE;
      else
        {
          g_autofree char *message = g_strdup_printf ("Unknown option “%s”", cmd->argv[i]);

          return usage_error (message);
        }
    }
  if (lctl_oauth_is_headless ())
    cmd->headless = TRUE;

  title = cmd->provider->flow == LCTL_OAUTH_FLOW_DEVICE ? "OAuth Login (Device Code)" : "OAuth Login";
  g_print ("%s %s\n", cmd->provider->label, title);
  cmd->early_signals = g_ptr_array_new_with_free_func ((GDestroyNotify) early_signal_free);
  g_signal_connect (cmd->proxy, "login-prompt", G_CALLBACK (login_prompt_cb), cmd);
  g_signal_connect (cmd->proxy, "login-progress", G_CALLBACK (login_progress_cb), cmd);
  g_signal_connect (cmd->proxy, "login-finished", G_CALLBACK (login_finished_cb), cmd);
  cmd->sigint_id = g_unix_signal_add (SIGINT, sigint_cb, cmd);

  /* This process has the user's display and terminal: it opens the
   * browser and reads pasted URLs; the daemon only prints nothing. */
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "headless", "b", TRUE);
  lctl_dbus_accounts_call_begin_login (cmd->proxy, cmd->provider->id, g_variant_dict_end (&options),
                                       cmd->cancellable, begin_login_cb, cmd);
  return -1;
}

/* ---- dispatch ---- */

static int
start_command (AuthCmd *cmd)
{
  const char *sub = cmd->argv[1];

  if (g_str_equal (sub, "status"))
    {
      lctl_dbus_accounts_call_list_accounts (cmd->proxy, cmd->cancellable, status_cb, cmd);
      return -1;
    }
  if (g_str_equal (sub, "refresh") || g_str_equal (sub, "logout"))
    {
      if (cmd->argc != 3)
        return usage_error (g_str_equal (sub, "refresh") ? "refresh takes one provider" : "logout takes one provider");
      cmd->provider = lctl_oauth_provider_lookup (cmd->argv[2]);
      if (cmd->provider == NULL)
        {
          g_autofree char *message = g_strdup_printf ("Unknown provider “%s”", cmd->argv[2]);

          return usage_error (message);
        }
      if (g_str_equal (sub, "refresh"))
        lctl_dbus_accounts_call_refresh (cmd->proxy, cmd->provider->id, cmd->cancellable, refresh_cb, cmd);
      else
        lctl_dbus_accounts_call_logout (cmd->proxy, cmd->provider->id, cmd->cancellable, logout_cb, cmd);
      return -1;
    }
  if (g_str_equal (sub, "export"))
    return start_export (cmd);
  if (g_str_equal (sub, "import"))
    return start_import (cmd);
  cmd->provider = lctl_oauth_provider_lookup (sub);
  if (cmd->provider != NULL)
    return start_login (cmd);
  {
    g_autofree char *message = g_strdup_printf ("Unknown auth command “%s”", sub);

    return usage_error (message);
  }
}

static void
proxy_ready_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  AuthCmd *cmd = user_data;
  g_autoptr (GError) error = NULL;
  int status;

  cmd->proxy = lctl_dbus_accounts_proxy_new_finish (result, &error);
  if (cmd->proxy == NULL)
    {
      fail_with (cmd, error);
      return;
    }
  /* Refresh and login talk to remote servers; allow them time. */
  g_dbus_proxy_set_default_timeout (G_DBUS_PROXY (cmd->proxy), 120000);
  status = start_command (cmd);
  if (status >= 0)
    finish (cmd, status);
}

/**
 * lctl_cmd_auth:
 * @bus: The session bus.
 * @argc: Argument count; @argv[0] is "auth".
 * @argv: The arguments.
 *
 * Returns: 0 on success, 1 on failure, 2 on a usage error (130 when the
 *   user aborts a login with Ctrl-C).
 */
int
lctl_cmd_auth (GDBusConnection *bus,
               int              argc,
               char           **argv)
{
  AuthCmd                  cmd = { 0 };
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  /* Registers our D-Bus error names, so remote errors map back. */
  (void) LCTL_ERROR;
  if (argc < 2 || g_str_equal (argv[1], "help") || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      if (argc >= 2)
        {
          g_print ("%s", usage_text);
          return EXIT_OK;
        }
      return usage_error (NULL);
    }
  if (g_str_equal (argv[1], "providers"))
    {
      for (gsize i = 0; i < n; i++)
        g_print ("%s|%s\n", providers[i].id, providers[i].label);
      return EXIT_OK;
    }

  if (bus == NULL)
    {
      g_printerr ("Error: no D-Bus session bus; the litellmctl daemon is reached through it\n");
      return EXIT_FAILURE_;
    }

  cmd.loop = g_main_loop_new (NULL, FALSE);
  cmd.bus = bus;
  cmd.argc = argc;
  cmd.argv = argv;
  cmd.cancellable = g_cancellable_new ();
  cmd.status = EXIT_FAILURE_;
  lctl_dbus_accounts_proxy_new (bus, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES, APP_ID, OBJECT_PATH,
                                cmd.cancellable, proxy_ready_cb, &cmd);
  g_main_loop_run (cmd.loop);
  fflush (stdout);

  end_countdown (&cmd);
  g_clear_handle_id (&cmd.sigint_id, g_source_remove);
  g_clear_handle_id (&cmd.silence_id, g_source_remove);
  g_cancellable_cancel (cmd.cancellable);
  if (cmd.proxy != NULL)
    g_signal_handlers_disconnect_by_data (cmd.proxy, &cmd);
  /* Let cancelled operations deliver their callbacks before @cmd goes. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&cmd.proxy);
  g_clear_object (&cmd.cancellable);
  g_clear_object (&cmd.stdin_lines);
  g_clear_object (&cmd.input_stream);
  g_clear_pointer (&cmd.early_signals, g_ptr_array_unref);
  g_free (cmd.flow_id);
  if (cmd.input != NULL)
    {
      explicit_bzero (cmd.input->str, cmd.input->len);
      g_string_free (cmd.input, TRUE);
    }
  if (cmd.script != NULL)
    {
      explicit_bzero (cmd.script, strlen (cmd.script));
      g_free (cmd.script);
    }
  g_main_loop_unref (cmd.loop);
  return cmd.status;
}
