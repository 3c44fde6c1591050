/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#define G_LOG_DOMAIN "litellmctl-dbus"

#include "config.h"

#include "lctl-application.h"
#include "lctl-manager.h"

struct _LctlManager
{
  LctlDBusManagerSkeleton parent_instance;

  LctlApplication *application; /* (unowned): it owns us */
};

static void lctl_manager_iface_init (LctlDBusManagerIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LctlManager, lctl_manager, LCTL_DBUS_TYPE_MANAGER_SKELETON, G_IMPLEMENT_INTERFACE (LCTL_DBUS_TYPE_MANAGER, lctl_manager_iface_init))

static gboolean
handle_get_status (LctlDBusManager       *manager,
                   GDBusMethodInvocation *invocation)
{
  LctlManager    *self = LCTL_MANAGER (manager);
  LctlServer     *server = lctl_application_get_server (self->application);
  LctlConfig     *config = lctl_server_get_config (server);
  GVariantBuilder builder;
  unsigned        model_count = 0;
  unsigned        deployment_count = 0;

  if (config != NULL)
    {
      model_count = g_strv_length (config->model_names);
      deployment_count = config->deployments->len;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "version", g_variant_new_string (PACKAGE_VERSION));
  g_variant_builder_add (&builder, "{sv}", "address",
                         g_variant_new_string (lctl_server_get_address (server)));
  g_variant_builder_add (&builder, "{sv}", "config-path",
                         g_variant_new_string (lctl_application_get_config_path (self->application)));
  g_variant_builder_add (&builder, "{sv}", "config-error",
                         g_variant_new_string (lctl_application_get_config_error (self->application)));
  g_variant_builder_add (&builder, "{sv}", "model-count", g_variant_new_uint32 (model_count));
  g_variant_builder_add (&builder, "{sv}", "deployment-count", g_variant_new_uint32 (deployment_count));
  g_variant_builder_add (&builder, "{sv}", "requests",
                         g_variant_new_uint64 (lctl_server_get_request_count (server)));
  g_variant_builder_add (&builder, "{sv}", "in-flight",
                         g_variant_new_uint32 (lctl_server_get_in_flight (server)));
  g_variant_builder_add (&builder, "{sv}", "uptime",
                         g_variant_new_uint64 ((g_get_monotonic_time () - lctl_application_get_started_at (self->application)) / G_USEC_PER_SEC));
  g_variant_builder_add (&builder, "{sv}", "pid", g_variant_new_uint32 (getpid ()));
  g_variant_builder_add (&builder, "{sv}", "master-key",
                         g_variant_new_boolean (config != NULL && config->master_key != NULL));

  lctl_dbus_manager_complete_get_status (manager, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_models (LctlDBusManager       *manager,
                    GDBusMethodInvocation *invocation)
{
  LctlManager    *self = LCTL_MANAGER (manager);
  LctlConfig     *config = lctl_server_get_config (lctl_application_get_server (self->application));
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (unsigned i = 0; config != NULL && i < config->deployments->len; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);

      g_variant_builder_open (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "name", g_variant_new_string (deployment->model_name));
      g_variant_builder_add (&builder, "{sv}", "provider", g_variant_new_string (deployment->provider));
      g_variant_builder_add (&builder, "{sv}", "model", g_variant_new_string (deployment->upstream_model));
      g_variant_builder_add (&builder, "{sv}", "api-base",
                             g_variant_new_string (deployment->api_base != NULL ? deployment->api_base : ""));
      g_variant_builder_add (&builder, "{sv}", "deployment", g_variant_new_string (deployment->id));
      g_variant_builder_add (&builder, "{sv}", "state", g_variant_new_string ("ok"));
      g_variant_builder_add (&builder, "{sv}", "cooldown-until", g_variant_new_int64 (0));
      g_variant_builder_add (&builder, "{sv}", "fails", g_variant_new_uint32 (0));
      g_variant_builder_close (&builder);
    }

  lctl_dbus_manager_complete_list_models (manager, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reload (LctlDBusManager       *manager,
               GDBusMethodInvocation *invocation)
{
  LctlManager *self = LCTL_MANAGER (manager);
  g_autoptr (GError) error = NULL;

  if (!lctl_application_reload (self->application, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    lctl_dbus_manager_complete_reload (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reset_cooldowns (LctlDBusManager       *manager,
                        GDBusMethodInvocation *invocation,
                        const char            *model)
{
  lctl_dbus_manager_complete_reset_cooldowns (manager, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_quit (LctlDBusManager       *manager,
             GDBusMethodInvocation *invocation)
{
  LctlManager *self = LCTL_MANAGER (manager);

  lctl_dbus_manager_complete_quit (manager, invocation);
  lctl_application_quit_gracefully (self->application);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
lctl_manager_iface_init (LctlDBusManagerIface *iface)
{
  iface->handle_get_status = handle_get_status;
  iface->handle_list_models = handle_list_models;
  iface->handle_reload = handle_reload;
  iface->handle_reset_cooldowns = handle_reset_cooldowns;
  iface->handle_quit = handle_quit;
}

static void
lctl_manager_class_init (LctlManagerClass *klass)
{
}

static void
lctl_manager_init (LctlManager *self)
{
}

LctlManager *
lctl_manager_new (LctlApplication *application)
{
  LctlManager *self = g_object_new (LCTL_TYPE_MANAGER, NULL);

  self->application = application;
  lctl_dbus_manager_set_version (LCTL_DBUS_MANAGER (self), PACKAGE_VERSION);
  lctl_manager_sync (self);
  return self;
}

/* Brings the D-Bus properties in line with the daemon's state. */
void
lctl_manager_sync (LctlManager *self)
{
  LctlDBusManager *manager = LCTL_DBUS_MANAGER (self);

  lctl_dbus_manager_set_address (manager, lctl_server_get_address (lctl_application_get_server (self->application)));
  lctl_dbus_manager_set_config_path (manager, lctl_application_get_config_path (self->application));
  lctl_dbus_manager_set_config_error (manager, lctl_application_get_config_error (self->application));
}
