/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>

#include "lctl-accounts-service.h"

/* A stand-in daemon for tests across real processes: owns
 * io.github.litellmctl on the session bus and serves only the Accounts
 * interface, the way litellmctld will. D-Bus activation starts it. */

static LctlAccountsService *service;

static void
bus_acquired_cb (GDBusConnection *connection,
                 const char *name,
                 gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (service), connection, OBJECT_PATH, &error))
    g_error ("Cannot export the Accounts interface: %s", error->message);
}

static void
name_lost_cb (GDBusConnection *connection,
              const char *name,
              gpointer user_data)
{
  g_main_loop_quit (user_data);
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

int
main (int argc,
      char *argv[])
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint owner;

  service = lctl_accounts_service_new ();
  owner = g_bus_own_name (G_BUS_TYPE_SESSION, APP_ID, G_BUS_NAME_OWNER_FLAGS_NONE, bus_acquired_cb, NULL,
                          name_lost_cb, loop, NULL);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  g_bus_unown_name (owner);
  g_clear_object (&service);
  return 0;
}
