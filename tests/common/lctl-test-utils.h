/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Gives the test binary a private HOME and XDG dirs (under a fresh temporary
 * directory, removed at exit), makes criticals fatal and calls g_test_init().
 * Returns the temporary directory. */
const char *lctl_test_init (int    *argc,
                            char ***argv);

/* A SoupServer listening on 127.0.0.1, port 0. Returns the base URI
 * ("http://127.0.0.1:PORT") in @base_uri. */
SoupServer *lctl_test_server_new (char **base_uri);

/* Iterates the default main context until *@flag is TRUE, failing the test
 * after @timeout_ms. */
void lctl_test_wait_for (const gboolean *flag,
                         unsigned        timeout_ms);

/* Iterates the default main context until *@result is set. */
void lctl_test_wait_for_result (GAsyncResult **result,
                                unsigned       timeout_ms);

/* A GAsyncReadyCallback storing a ref of the result in *user_data
 * (a GAsyncResult **). */
void lctl_test_store_result (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data);

/* Writes @contents to @path, creating parent dirs; asserts success. */
void lctl_test_write_file (const char *path,
                           const char *contents);

/* Path of a file in the source tree's tests/ directory. */
char *lctl_test_source_path (const char *first_element,
                             ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS

G_BEGIN_DECLS

/* Starts a private session bus whose service directory activates the built
 * daemon (it inherits the environment at this point: set LITELLMCTL_CONFIG,
 * LITELLMCTL_PORT=0 before). */
GTestDBus *lctl_test_dbus_up (void);

/* Runs the built CLI with @argv (NULL-terminated, without "litellmctl"),
 * returns its exit status, and its output in @out / @err (nullable). */
int lctl_test_run_cli (char      **out,
                       char      **err,
                       const char *first_arg,
                       ...) G_GNUC_NULL_TERMINATED;

/* GETs @url synchronously (for servers in other processes); returns the
 * status and the body in @body (nullable). */
unsigned lctl_test_http_get (const char *url,
                             const char *authorization,
                             char      **body);

/* A TCP port that was free a moment ago. */
unsigned lctl_test_free_port (void);

G_END_DECLS
