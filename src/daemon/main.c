/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "lctl-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr (LctlApplication) application = NULL;
  int status;

  /* Without TZ, glibc stats /etc/localtime for every timestamp, and every
   * log line has one: a system call per request for nothing. */
  g_setenv ("TZ", ":/etc/localtime", FALSE);
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("litellmctld");

  application = lctl_application_new ();
  status = g_application_run (G_APPLICATION (application), argc, argv);
  if (status == 0)
    status = lctl_application_get_exit_status (application);
  return status;
}
