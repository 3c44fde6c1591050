/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-token-source.h"

G_DEFINE_BOXED_TYPE (LctlToken, lctl_token, lctl_token_ref, lctl_token_unref)

static void
lctl_token_clear (LctlToken *self)
{
  g_free (self->provider);
  if (self->access_token != NULL)
    explicit_bzero (self->access_token, strlen (self->access_token));
  g_free (self->access_token);
  g_free (self->account_id);
  g_free (self->resource_url);
  g_free (self->project_id);
  g_free (self->email);
}

/**
 * lctl_token_new:
 * @provider: The provider.
 * @access_token: The bearer token.
 *
 * Returns: (transfer full): A new token; fill the optional fields before
 *   sharing it.
 */
LctlToken *
lctl_token_new (const char *provider,
                const char *access_token)
{
  LctlToken *self = g_atomic_rc_box_new0 (LctlToken);

  self->provider = g_strdup (provider);
  self->access_token = g_strdup (access_token);
  return self;
}

LctlToken *
lctl_token_ref (LctlToken *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
lctl_token_unref (LctlToken *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) lctl_token_clear);
}

G_DEFINE_INTERFACE (LctlTokenSource, lctl_token_source, G_TYPE_OBJECT)

static void
lctl_token_source_default_init (LctlTokenSourceInterface *iface)
{
}

void
lctl_token_source_get_token_async (LctlTokenSource    *self,
                                   const char         *provider,
                                   LctlToken          *rejected,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data)
{
  g_return_if_fail (LCTL_IS_TOKEN_SOURCE (self));
  g_return_if_fail (provider != NULL);

  LCTL_TOKEN_SOURCE_GET_IFACE (self)->get_token_async (self, provider, rejected,
                                                       cancellable, callback,
                                                       user_data);
}

/**
 * lctl_token_source_get_token_finish:
 *
 * Returns: (transfer full): The token, or %NULL with @error set.
 */
LctlToken *
lctl_token_source_get_token_finish (LctlTokenSource *self,
                                    GAsyncResult    *result,
                                    GError         **error)
{
  g_return_val_if_fail (LCTL_IS_TOKEN_SOURCE (self), NULL);

  return LCTL_TOKEN_SOURCE_GET_IFACE (self)->get_token_finish (self, result, error);
}
