/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdarg.h>

#include "lctl-test-utils.h"

static char *test_tmpdir;

static void
remove_tree (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

static void
cleanup_tmpdir (void)
{
  if (test_tmpdir != NULL && g_getenv ("LITELLMCTL_TEST_KEEP") == NULL)
    remove_tree (test_tmpdir);
  g_clear_pointer (&test_tmpdir, g_free);
}

const char *
lctl_test_init (int    *argc,
                char ***argv)
{
  static const char *const dirs[][2] = {
    { "HOME", "home" },
    { "XDG_CONFIG_HOME", "config" },
    { "XDG_DATA_HOME", "data" },
    { "XDG_CACHE_HOME", "cache" },
    { "XDG_STATE_HOME", "state" },
    { "XDG_RUNTIME_DIR", "runtime" },
  };
  g_autoptr (GError) error = NULL;

  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("NO_PROXY", "*", TRUE);
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("HTTPS_PROXY");
  g_unsetenv ("http_proxy");
  g_unsetenv ("https_proxy");

  test_tmpdir = g_dir_make_tmp ("lctl-test-XXXXXX", &error);
  g_assert_no_error (error);
  atexit (cleanup_tmpdir);

  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (test_tmpdir, dirs[i][1], NULL);

      g_mkdir_with_parents (path, 0700);
      g_setenv (dirs[i][0], path, TRUE);
    }

  g_test_init (argc, argv, NULL);
  return test_tmpdir;
}

SoupServer *
lctl_test_server_new (char **base_uri)
{
  g_autoptr (SoupServer) server = soup_server_new ("server-header", "lctl-test-mock ", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  GSList *uris;

  soup_server_listen (server, address, 0, &error);
  g_assert_no_error (error);

  uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);
  if (base_uri != NULL)
    {
      g_autofree char *s = g_uri_to_string (uris->data);
      gsize            len = strlen (s);

      if (len > 0 && s[len - 1] == '/')
        s[len - 1] = '\0';
      *base_uri = g_steal_pointer (&s);
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return g_steal_pointer (&server);
}

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

void
lctl_test_wait_for (const gboolean *flag,
                    unsigned        timeout_ms)
{
  gboolean timed_out = FALSE;
  unsigned id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (!*flag && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  g_assert_false (timed_out);
}

void
lctl_test_wait_for_result (GAsyncResult **result,
                           unsigned       timeout_ms)
{
  gboolean timed_out = FALSE;
  unsigned id = g_timeout_add (timeout_ms, timeout_cb, &timed_out);

  while (*result == NULL && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  g_assert_false (timed_out);
}

void
lctl_test_store_result (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

void
lctl_test_write_file (const char *path,
                      const char *contents)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  g_mkdir_with_parents (dir, 0700);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

char *
lctl_test_source_path (const char *first_element,
                       ...)
{
  const char *root = g_getenv ("LITELLMCTL_SOURCE_ROOT");
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  va_list ap;

  g_assert_nonnull (root);
  g_ptr_array_add (parts, (gpointer) root);
  g_ptr_array_add (parts, (gpointer) "tests");
  va_start (ap, first_element);
  for (const char *e = first_element; e != NULL; e = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) e);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

/* GTestDBus's watcher (which kills the bus when this process dies) reads
 * a pipe whose writing end this process keeps without close-on-exec: a
 * second bus daemon inherits it, the watcher then never sees this process
 * die, and a failed assertion leaves bus and daemon holding the test's
 * output until meson's timeout. Nothing here is meant for children. */
static void
close_fds_on_exec (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);

      if (fd > 2)
        fcntl (fd, F_SETFD, fcntl (fd, F_GETFD) | FD_CLOEXEC);
    }
}

GTestDBus *
lctl_test_dbus_up (void)
{
  const char *service_dir = g_getenv ("LITELLMCTL_TEST_SERVICE_DIR");
  GTestDBus  *bus;

  g_assert_nonnull (service_dir);
  close_fds_on_exec ();
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_add_service_dir (bus, service_dir);
  g_test_dbus_up (bus);
  return bus;
}

int
lctl_test_run_cli (char      **out,
                   char      **err,
                   const char *first_arg,
                   ...)
{
  const char      *build_root = g_getenv ("LITELLMCTL_BUILD_ROOT");
  g_autofree char *cli = NULL;
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *stdout_text = NULL;
  g_autofree char *stderr_text = NULL;
  va_list          ap;

  g_assert_nonnull (build_root);
  cli = g_build_filename (build_root, "src", "cli", "litellmctl", NULL);
  g_ptr_array_add (args, cli);
  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  process = g_subprocess_newv ((const char *const *) args->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                                   G_SUBPROCESS_FLAGS_STDIN_INHERIT,
                               &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &stdout_text, &stderr_text, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("$ litellmctl %s\n%s%s", first_arg, stdout_text, stderr_text);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_text);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

unsigned
lctl_test_http_get (const char *url,
                    const char *authorization,
                    char      **body)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  if (authorization != NULL)
    soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization", authorization);
  bytes = soup_session_send_and_read (session, msg, NULL, &error);
  if (bytes == NULL)
    return 0;
  if (body != NULL)
    *body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  return soup_message_get_status (msg);
}

unsigned
lctl_test_free_port (void)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}
