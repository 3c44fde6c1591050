/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/**
 * LctlGeminiProgressFunc:
 * @message: What happens now, for people.
 * @user_data: The data given with the function.
 */
typedef void (*LctlGeminiProgressFunc) (const char *message,
                                        gpointer    user_data);

void     lctl_gemini_setup_async (SoupSession           *session,
                                  JsonObject            *record,
                                  LctlGeminiProgressFunc progress,
                                  gpointer               progress_data,
                                  GCancellable          *cancellable,
                                  GAsyncReadyCallback    callback,
                                  gpointer               user_data);
gboolean lctl_gemini_setup_finish (GAsyncResult *result,
                                   GError      **error);
gboolean lctl_gemini_setup_needed (JsonObject *record);

G_END_DECLS
