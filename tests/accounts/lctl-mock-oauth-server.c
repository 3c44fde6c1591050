/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

#include "lctl-mock-oauth.h"

/* The mock OAuth servers as a process, for tests across real processes:
 * prints its base URL on the first line of stdout, then serves until
 * SIGTERM. Arguments script the device-code polls ("pending", "ok", …). */

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (LctlMockOAuth) mock = lctl_mock_oauth_new ();

  for (int i = 1; i < argc; i++)
    g_queue_push_tail (mock->poll_script, g_strdup (argv[i]));
  printf ("%s\n", mock->base);
  fflush (stdout);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);
  return 0;
}
