/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <locale.h>

#include "lctl-cmd-auth.h"

/* `litellmctl auth …` as its own program, for tests across real processes
 * (the real litellmctl dispatches to lctl_cmd_auth() the same way). */
int
main (int argc,
      char *argv[])
{
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      g_printerr ("Usage: %s auth COMMAND…\n", argv[0]);
      return 2;
    }
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    g_printerr ("%s\n", error->message);
  return lctl_cmd_auth (bus, argc - 1, argv + 1);
}
