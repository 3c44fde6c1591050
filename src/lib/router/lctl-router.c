/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-router"

#include <string.h>

#include "lctl-router-private.h"

/* Weight of a new sample in the latency moving averages. */
#define LATENCY_EWMA_ALPHA 0.3

struct _LctlRouter
{
  GObject parent_instance;

  GHashTable         *states; /* key -> LctlDeploymentState */
  LctlRouterClockFunc clock;
  gpointer            clock_data;
  GRand              *rand;
  unsigned            cooldown_source;
  gint64              next_expiry; /* earliest cooldown end (monotonic µs), 0 = none */
};

G_DEFINE_FINAL_TYPE (LctlRouter, lctl_router, G_TYPE_OBJECT)

enum
{
  SIGNAL_DEPLOYMENT_STATE_CHANGED,
  N_SIGNALS
};

static unsigned signals[N_SIGNALS];

static void schedule_cooldown_timer (LctlRouter *self);

static void
deployment_state_free (gpointer data)
{
  LctlDeploymentState *state = data;

  g_free (state->key);
  g_free (state->model_name);
  g_free (state->model);
  g_free (state->deployment_id);
  g_clear_pointer (&state->fail_times, g_array_unref);
  g_free (state->last_error);
  g_free (state);
}

static void
default_clock (gpointer user_data,
               gint64  *monotonic_us,
               gint64  *real_us)
{
  *monotonic_us = g_get_monotonic_time ();
  *real_us = g_get_real_time ();
}

static void
read_clock (LctlRouter *self,
            gint64     *monotonic_us,
            gint64     *real_us)
{
  gint64 mono = 0, real = 0;

  self->clock (self->clock_data, &mono, &real);
  if (monotonic_us)
    *monotonic_us = mono;
  if (real_us)
    *real_us = real;
}

static void
lctl_router_dispose (GObject *object)
{
  LctlRouter *self = LCTL_ROUTER (object);

  g_clear_handle_id (&self->cooldown_source, g_source_remove);

  G_OBJECT_CLASS (lctl_router_parent_class)->dispose (object);
}

static void
lctl_router_finalize (GObject *object)
{
  LctlRouter *self = LCTL_ROUTER (object);

  g_clear_pointer (&self->states, g_hash_table_unref);
  g_clear_pointer (&self->rand, g_rand_free);

  G_OBJECT_CLASS (lctl_router_parent_class)->finalize (object);
}

static void
lctl_router_class_init (LctlRouterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lctl_router_dispose;
  object_class->finalize = lctl_router_finalize;

  /**
   * LctlRouter::deployment-state-changed:
   * @router: The router.
   * @model_name: The model group.
   * @deployment: The deployment's `provider/model`.
   * @state: "ok" or "cooldown".
   * @until: Unix time in seconds the cooldown ends, 0 for "ok".
   *
   * Emitted when a deployment enters a cooldown and when it leaves it
   * (by itself, after a success, or by lctl_router_reset_cooldowns()).
   * The arguments match the D-Bus signal DeploymentStateChanged.
   */
  signals[SIGNAL_DEPLOYMENT_STATE_CHANGED] = g_signal_new ("deployment-state-changed",
                                                           G_TYPE_FROM_CLASS (klass),
                                                           G_SIGNAL_RUN_LAST,
                                                           0, NULL, NULL, NULL,
                                                           G_TYPE_NONE, 4,
                                                           G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT64);
}

static void
lctl_router_init (LctlRouter *self)
{
  self->states = g_hash_table_new_full (g_str_hash, g_str_equal,
                                        NULL, deployment_state_free);
  self->clock = default_clock;
  self->rand = g_rand_new ();
}

/**
 * lctl_router_new:
 *
 * Creates the daemon's router: the health of every deployment, shared by
 * all requests and kept across config reloads.
 *
 * Returns: (transfer full): A new #LctlRouter.
 */
LctlRouter *
lctl_router_new (void)
{
  return g_object_new (LCTL_TYPE_ROUTER, NULL);
}

/**
 * lctl_router_set_clock:
 * @self: A router.
 * @clock: (nullable): The clock, or %NULL for the system clocks.
 * @user_data: Passed to @clock.
 *
 * Replaces the router's clock, for tests. With a fake clock the cooldown
 * timer still runs on the main loop, so tests call
 * lctl_router_check_cooldowns() after moving their clock.
 */
void
lctl_router_set_clock (LctlRouter         *self,
                       LctlRouterClockFunc clock,
                       gpointer            user_data)
{
  g_return_if_fail (LCTL_IS_ROUTER (self));

  self->clock = clock ? clock : default_clock;
  self->clock_data = clock ? user_data : NULL;
}

/**
 * lctl_router_set_seed:
 * @self: A router.
 * @seed: The seed.
 *
 * Makes the weighted shuffle (and tie breaks) reproducible, for tests.
 */
void
lctl_router_set_seed (LctlRouter *self,
                      guint32     seed)
{
  g_return_if_fail (LCTL_IS_ROUTER (self));

  g_rand_set_seed (self->rand, seed);
}

gint64
lctl_router_now (LctlRouter *self)
{
  gint64 now;

  read_clock (self, &now, NULL);
  return now;
}

GRand *
lctl_router_get_rand (LctlRouter *self)
{
  return self->rand;
}

static void
emit_state (LctlRouter          *self,
            LctlDeploymentState *state)
{
  gboolean cooling = state->cooldown_until != 0;
  gint64   until = cooling ? (state->cooldown_until_real + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC : 0;

  g_signal_emit (self, signals[SIGNAL_DEPLOYMENT_STATE_CHANGED], 0,
                 state->model_name, state->model,
                 cooling ? "cooldown" : "ok", until);
}

static void
end_cooldown (LctlRouter          *self,
              LctlDeploymentState *state)
{
  state->cooldown_until = 0;
  state->cooldown_until_real = 0;
  /* A deployment back from a cooldown starts with a clean slate; otherwise
   * one more failure would bench it again at once. */
  g_array_set_size (state->fail_times, 0);
  g_info ("Deployment %s of %s is back in rotation", state->model, state->model_name);
  emit_state (self, state);
}

gboolean
lctl_router_state_is_cooling (LctlRouter          *self,
                              LctlDeploymentState *state,
                              gint64               now)
{
  return state->cooldown_until != 0 && state->cooldown_until > now;
}

/**
 * lctl_router_check_cooldowns:
 * @self: A router.
 *
 * Ends every cooldown whose time has come, emitting
 * #LctlRouter::deployment-state-changed with "ok" for each. The router does
 * this by itself from a main-loop timeout and before routing; tests with a
 * fake clock call it after moving the clock.
 */
void
lctl_router_check_cooldowns (LctlRouter *self)
{
  g_autoptr (GPtrArray) expired = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer       value;
  gint64         now;

  g_return_if_fail (LCTL_IS_ROUTER (self));

  /* Called before every attempt: nothing to scan until the earliest
   * cooldown is due. */
  now = lctl_router_now (self);
  if (self->next_expiry == 0 || now < self->next_expiry)
    return;

  g_hash_table_iter_init (&iter, self->states);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LctlDeploymentState *state = value;

      if (state->cooldown_until != 0 && state->cooldown_until <= now)
        g_ptr_array_add (expired, state);
    }

  /* Collected first: signal handlers may call back into the router. */
  for (unsigned i = 0; i < expired->len; i++)
    {
      LctlDeploymentState *state = g_ptr_array_index (expired, i);

      if (state->cooldown_until != 0 && state->cooldown_until <= now)
        end_cooldown (self, state);
    }

  schedule_cooldown_timer (self);
}

static gboolean
cooldown_timer_cb (gpointer user_data)
{
  LctlRouter *self = user_data;

  self->cooldown_source = 0;
  lctl_router_check_cooldowns (self);
  /* Early (a fake clock in tests): wait for the rest. */
  if (self->cooldown_source == 0 && self->next_expiry != 0)
    {
      self->next_expiry = 0;
      schedule_cooldown_timer (self);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_cooldown_timer (LctlRouter *self)
{
  GHashTableIter iter;
  gpointer       value;
  gint64         earliest = 0;
  gint64         now, delay_ms;

  g_hash_table_iter_init (&iter, self->states);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LctlDeploymentState *state = value;

      if (state->cooldown_until != 0 && (earliest == 0 || state->cooldown_until < earliest))
        earliest = state->cooldown_until;
    }

  if (earliest == self->next_expiry && (earliest == 0 || self->cooldown_source != 0))
    return;

  g_clear_handle_id (&self->cooldown_source, g_source_remove);
  self->next_expiry = earliest;
  if (earliest == 0)
    return;

  now = lctl_router_now (self);
  delay_ms = earliest > now ? (earliest - now + 999) / 1000 : 0;
  /* Fires on the context the router was used from: the daemon's main loop. */
  self->cooldown_source = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                              (unsigned) MIN (delay_ms, G_MAXUINT),
                                              cooldown_timer_cb, self, NULL);
  g_source_set_name_by_id (self->cooldown_source, "[lctl] router cooldown");
}

/**
 * lctl_router_reset_cooldowns:
 * @self: A router.
 * @model_name: (nullable): A model group, or %NULL (or "") for all.
 *
 * Puts cooled-down deployments back into rotation at once and forgets their
 * recent failures (D-Bus ResetCooldowns, `litellmctl cooldowns reset`).
 *
 * Returns: How many deployments left a cooldown.
 */
unsigned
lctl_router_reset_cooldowns (LctlRouter *self,
                             const char *model_name)
{
  g_autoptr (GPtrArray) cooling = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer       value;

  g_return_val_if_fail (LCTL_IS_ROUTER (self), 0);

  if (model_name && *model_name == '\0')
    model_name = NULL;

  g_hash_table_iter_init (&iter, self->states);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      LctlDeploymentState *state = value;

      if (model_name && g_strcmp0 (state->model_name, model_name) != 0)
        continue;
      if (state->cooldown_until != 0)
        g_ptr_array_add (cooling, state);
      else
        g_array_set_size (state->fail_times, 0);
    }

  for (unsigned i = 0; i < cooling->len; i++)
    end_cooldown (self, g_ptr_array_index (cooling, i));

  schedule_cooldown_timer (self);
  return cooling->len;
}

/* The identity of a deployment across reloads: group, provider/model,
 * api_base, and which of several otherwise identical entries it is (two
 * API keys for one endpoint). The index is not part of it, so inserting a
 * model elsewhere in the file keeps every other deployment's health. */
static char *
deployment_key (const LctlConfig     *config,
                const LctlDeployment *deployment)
{
  unsigned occurrence = 0;

  if (config && config->deployments)
    {
      for (unsigned i = 0; i < config->deployments->len; i++)
        {
          const LctlDeployment *other = g_ptr_array_index (config->deployments, i);

          if (other == deployment)
            break;
          if (g_strcmp0 (other->model_name, deployment->model_name) == 0 && g_strcmp0 (other->model, deployment->model) == 0 && g_strcmp0 (other->api_base, deployment->api_base) == 0)
            occurrence++;
        }
    }

  return g_strdup_printf ("%s\x1f%s\x1f%s\x1f%u",
                          deployment->model_name ? deployment->model_name : "",
                          deployment->model ? deployment->model : "",
                          deployment->api_base ? deployment->api_base : "",
                          occurrence);
}

static void
update_string (char      **field,
               const char *value)
{
  if (g_strcmp0 (*field, value) != 0)
    {
      g_free (*field);
      *field = g_strdup (value);
    }
}

LctlDeploymentState *
lctl_router_lookup_state (LctlRouter           *self,
                          const LctlConfig     *config,
                          const LctlDeployment *deployment)
{
  g_autofree char     *key = deployment_key (config, deployment);
  LctlDeploymentState *state;

  state = g_hash_table_lookup (self->states, key);
  if (state == NULL)
    {
      state = g_new0 (LctlDeploymentState, 1);
      state->key = g_steal_pointer (&key);
      state->model_name = g_strdup (deployment->model_name);
      state->fail_times = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_hash_table_insert (self->states, state->key, state);
    }

  update_string (&state->model, deployment->model);
  update_string (&state->deployment_id, deployment->id);
  return state;
}

static void
prune_fail_times (LctlDeploymentState *state,
                  gint64               now,
                  double               window_s)
{
  gint64   oldest = now - (gint64) (window_s * G_USEC_PER_SEC);
  unsigned keep_from = 0;

  /* Failures exactly one window apart still count as "within" it. */
  while (keep_from < state->fail_times->len && g_array_index (state->fail_times, gint64, keep_from) < oldest)
    keep_from++;
  if (keep_from > 0)
    g_array_remove_range (state->fail_times, 0, keep_from);
}

static double
ewma (double   previous,
      gboolean has_previous,
      double   sample)
{
  if (!has_previous)
    return sample;
  return LATENCY_EWMA_ALPHA * sample + (1.0 - LATENCY_EWMA_ALPHA) * previous;
}

void
lctl_router_record_success (LctlRouter          *self,
                            LctlDeploymentState *state,
                            double               latency_ms,
                            double               ttft_ms)
{
  if (latency_ms > 0)
    {
      state->latency_ms = ewma (state->latency_ms, state->has_latency, latency_ms);
      state->has_latency = TRUE;
    }
  if (ttft_ms > 0)
    {
      state->ttft_ms = ewma (state->ttft_ms, state->has_ttft, ttft_ms);
      state->has_ttft = TRUE;
    }

  /* An answer proves the deployment works: a cooldown that a request
   * started before it (or a stale one) must not keep it benched. */
  if (state->cooldown_until != 0)
    {
      end_cooldown (self, state);
      schedule_cooldown_timer (self);
    }
}

void
lctl_router_record_failure (LctlRouter               *self,
                            LctlDeploymentState      *state,
                            const LctlRouterSettings *settings,
                            LctlRouteFailureKind      kind,
                            int                       status,
                            double                    retry_after,
                            double                    latency_ms,
                            const char               *error_text)
{
  gint64   now, now_real;
  double   cooldown_time = settings->cooldown_time > 0 ? settings->cooldown_time : 5.0;
  double   max_cooldown = settings->max_cooldown_time > 0 ? settings->max_cooldown_time : 60.0;
  double   upstream_wait;
  unsigned fails;

  if (kind == LCTL_ROUTE_FAILURE_CANCELLED)
    return;

  state->last_status = status;
  update_string (&state->last_error, error_text ? error_text : lctl_route_failure_kind_to_string (kind));

  /* A timeout is the slowest possible answer: latency-based routing must
   * see it, or it would keep picking a hanging deployment. */
  if (kind == LCTL_ROUTE_FAILURE_TIMEOUT && latency_ms > 0)
    {
      state->latency_ms = ewma (state->latency_ms, state->has_latency, latency_ms);
      state->has_latency = TRUE;
    }

  if (!lctl_route_failure_counts_for_cooldown (kind, status))
    return;

  read_clock (self, &now, &now_real);
  prune_fail_times (state, now, cooldown_time);
  g_array_append_val (state->fail_times, now);
  fails = state->fail_times->len;

  /* Retry-After can be absurd (600000 s for a spent weekly quota): capped,
   * so an upstream is never benched beyond max_cooldown_time. */
  upstream_wait = retry_after > 0 ? MIN (retry_after, max_cooldown) : 0;

  /* allowed_fails failures are allowed; the next one within the window
   * cools the deployment down. An upstream that says it will be unavailable
   * for longer than a cooldown is believed at once: waiting for more
   * failures would only stall requests that a fallback can serve. */
  if ((int) fails > MAX (settings->allowed_fails, 0) || upstream_wait > cooldown_time)
    {
      double duration = MAX (cooldown_time, upstream_wait);
      gint64 until = now + (gint64) (duration * G_USEC_PER_SEC);

      if (until > state->cooldown_until)
        {
          state->cooldown_until = until;
          state->cooldown_until_real = now_real + (gint64) (duration * G_USEC_PER_SEC);
        }
      g_array_set_size (state->fail_times, 0);
      g_info ("Deployment %s of %s cooling down for %.0f s after %u failure(s), last %d",
              state->model, state->model_name, duration, fails, status);
      emit_state (self, state);
      schedule_cooldown_timer (self);
    }
}

static void
fill_status (LctlRouter           *self,
             LctlDeploymentState  *state,
             const LctlConfig     *config,
             LctlDeploymentStatus *out)
{
  gint64 now = lctl_router_now (self);

  if (config)
    prune_fail_times (state, now, config->router.cooldown_time > 0 ? config->router.cooldown_time : 5.0);

  out->cooling_down = lctl_router_state_is_cooling (self, state, now);
  out->cooldown_until = out->cooling_down ? (state->cooldown_until_real + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC : 0;
  out->recent_fails = state->fail_times->len;
  out->in_flight = state->in_flight;
  out->latency_ms = state->has_latency ? state->latency_ms : 0;
  out->ttft_ms = state->has_ttft ? state->ttft_ms : 0;
  out->last_status = state->last_status;
  out->last_error = state->last_error;
}

/**
 * lctl_router_get_deployment_status:
 * @self: A router.
 * @config: The snapshot @deployment belongs to.
 * @deployment: A deployment of @config.
 * @out: (out caller-allocates): Its health.
 *
 * Returns: %TRUE (the health of a deployment never routed to is "ok").
 */
gboolean
lctl_router_get_deployment_status (LctlRouter           *self,
                                   const LctlConfig     *config,
                                   const LctlDeployment *deployment,
                                   LctlDeploymentStatus *out)
{
  g_return_val_if_fail (LCTL_IS_ROUTER (self), FALSE);
  g_return_val_if_fail (deployment != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  lctl_router_check_cooldowns (self);
  fill_status (self, lctl_router_lookup_state (self, config, deployment), config, out);
  return TRUE;
}

/**
 * lctl_router_list_states:
 * @self: A router.
 * @config: The configuration being served.
 *
 * The reply of D-Bus ListModels: one dictionary per deployment in
 * configuration order, with "name" (s), "provider" (s), "model" (s),
 * "api-base" (s), "state" (s: "ok" or "cooldown"), "cooldown-until" (x),
 * "fails" (u), and also "deployment" (s, the id), "in-flight" (u),
 * "latency-ms" (d), "ttft-ms" (d), "last-status" (i) and "last-error" (s)
 * when known.
 *
 * Returns: (transfer floating): An `aa{sv}` variant.
 */
GVariant *
lctl_router_list_states (LctlRouter       *self,
                         const LctlConfig *config)
{
  GVariantBuilder builder;

  g_return_val_if_fail (LCTL_IS_ROUTER (self), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  lctl_router_check_cooldowns (self);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (unsigned i = 0; config->deployments && i < config->deployments->len; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);
      LctlDeploymentStatus  status;
      GVariantBuilder       dict;

      fill_status (self, lctl_router_lookup_state (self, config, deployment), config, &status);

      g_variant_builder_init (&dict, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&dict, "{sv}", "name", g_variant_new_string (deployment->model_name ? deployment->model_name : ""));
      g_variant_builder_add (&dict, "{sv}", "provider", g_variant_new_string (deployment->provider ? deployment->provider : ""));
      g_variant_builder_add (&dict, "{sv}", "model", g_variant_new_string (deployment->upstream_model ? deployment->upstream_model : ""));
      g_variant_builder_add (&dict, "{sv}", "api-base", g_variant_new_string (deployment->api_base ? deployment->api_base : ""));
      g_variant_builder_add (&dict, "{sv}", "state", g_variant_new_string (status.cooling_down ? "cooldown" : "ok"));
      g_variant_builder_add (&dict, "{sv}", "cooldown-until", g_variant_new_int64 (status.cooldown_until));
      g_variant_builder_add (&dict, "{sv}", "fails", g_variant_new_uint32 (status.recent_fails));
      g_variant_builder_add (&dict, "{sv}", "deployment", g_variant_new_string (deployment->id ? deployment->id : ""));
      g_variant_builder_add (&dict, "{sv}", "in-flight", g_variant_new_uint32 (status.in_flight));
      g_variant_builder_add (&dict, "{sv}", "latency-ms", g_variant_new_double (status.latency_ms));
      g_variant_builder_add (&dict, "{sv}", "ttft-ms", g_variant_new_double (status.ttft_ms));
      if (status.last_error)
        {
          g_variant_builder_add (&dict, "{sv}", "last-status", g_variant_new_int32 (status.last_status));
          g_variant_builder_add (&dict, "{sv}", "last-error", g_variant_new_string (status.last_error));
        }
      g_variant_builder_add_value (&builder, g_variant_builder_end (&dict));
    }

  return g_variant_builder_end (&builder);
}

/* Model group resolution */

static gboolean
group_exists (const LctlConfig *config,
              const char       *name)
{
  for (unsigned i = 0; config->deployments && i < config->deployments->len; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);

      if (g_strcmp0 (deployment->model_name, name) == 0)
        return TRUE;
    }
  return FALSE;
}

/* "claude-haiku-4-5-20251001" -> "claude-haiku-4-5", "x-latest" -> "x". */
static char *
strip_version_suffix (const char *name)
{
  size_t len = strlen (name);

  if (len > 9 && name[len - 9] == '-')
    {
      gboolean digits = TRUE;

      for (size_t i = len - 8; i < len; i++)
        digits = digits && g_ascii_isdigit (name[i]);
      if (digits)
        return g_strndup (name, len - 9);
    }
  if (g_str_has_suffix (name, "-latest") && len > 7)
    return g_strndup (name, len - 7);
  return NULL;
}

/* How specific a wildcard group is: its literal characters. */
static size_t
pattern_specificity (const char *pattern)
{
  size_t n = 0;

  for (const char *p = pattern; *p; p++)
    if (*p != '*' && *p != '?')
      n++;
  return n;
}

static const char *
find_wildcard_group (const LctlConfig *config,
                     const char       *name)
{
  const char *best = NULL;

  for (unsigned i = 0; config->deployments && i < config->deployments->len; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);
      const char           *pattern = deployment->model_name;

      if (pattern == NULL || strchr (pattern, '*') == NULL)
        continue;
      if (!g_pattern_match_simple (pattern, name))
        continue;
      if (best == NULL || pattern_specificity (pattern) > pattern_specificity (best))
        best = pattern;
    }
  return best;
}

/**
 * lctl_router_resolve_group:
 * @config: A configuration snapshot.
 * @requested_model: The model a client asked for.
 * @out_wildcard: (out) (optional): Set to %TRUE when the group is a wildcard
 *   group, whose upstream model comes from the request (see
 *   lctl_router_effective_upstream_model()).
 *
 * Finds the model group serving @requested_model, in this order:
 * `router_settings.model_group_alias`; an exact `model_name`; the name
 * without a trailing `-YYYYMMDD` or `-latest` (Claude Code asks for dated
 * names); the most specific wildcard group (`*`, `claude-*`).
 *
 * Returns: (transfer full) (nullable): The group's `model_name`, or %NULL
 *   when nothing serves it.
 */
char *
lctl_router_resolve_group (const LctlConfig *config,
                           const char       *requested_model,
                           gboolean         *out_wildcard)
{
  const char      *name = requested_model;
  const char      *wildcard;
  g_autofree char *stripped = NULL;

  if (out_wildcard)
    *out_wildcard = FALSE;
  g_return_val_if_fail (config != NULL, NULL);
  if (requested_model == NULL || *requested_model == '\0')
    return NULL;

  if (config->router.model_group_alias)
    {
      const char *target = g_hash_table_lookup (config->router.model_group_alias, requested_model);

      if (target)
        name = target;
    }

  if (group_exists (config, name))
    return g_strdup (name);

  stripped = strip_version_suffix (name);
  if (stripped && group_exists (config, stripped))
    return g_steal_pointer (&stripped);

  wildcard = find_wildcard_group (config, name);
  if (wildcard)
    {
      if (out_wildcard)
        *out_wildcard = TRUE;
      return g_strdup (wildcard);
    }

  return NULL;
}

/**
 * lctl_router_effective_upstream_model:
 * @deployment: A deployment.
 * @requested_model: The name the request (or fallback entry) asked for.
 *
 * The model to send upstream. For a wildcard deployment (upstream model
 * `*`) it is the requested name; when the group's pattern has a namespace
 * prefix (`llmengine/` before its `*`), only the part the `*` matched; and a
 * partial upstream pattern (`claude-*`) gets the matched part substituted.
 *
 * Returns: (transfer full): The upstream model name.
 */
char *
lctl_router_effective_upstream_model (const LctlDeployment *deployment,
                                      const char           *requested_model)
{
  const char      *upstream = deployment->upstream_model ? deployment->upstream_model : "";
  const char      *pattern = deployment->model_name ? deployment->model_name : "";
  const char      *star = strchr (upstream, '*');
  const char      *pattern_star = strchr (pattern, '*');
  g_autofree char *captured = NULL;

  if (star == NULL || requested_model == NULL)
    return g_strdup (upstream);

  if (pattern_star && strchr (pattern_star + 1, '*') == NULL && g_pattern_match_simple (pattern, requested_model))
    {
      size_t prefix = (size_t) (pattern_star - pattern);
      size_t suffix = strlen (pattern_star + 1);
      size_t len = strlen (requested_model);

      captured = g_strndup (requested_model + prefix, len - prefix - suffix);
      if (strcmp (upstream, "*") == 0 && !(prefix > 0 && pattern[prefix - 1] == '/'))
        return g_strdup (requested_model);
    }
  else
    {
      captured = g_strdup (requested_model);
    }

  return g_strdup_printf ("%.*s%s%s", (int) (star - upstream), upstream, captured, star + 1);
}

/**
 * lctl_router_deployment_timeouts:
 * @config: A configuration snapshot.
 * @deployment: One of its deployments.
 * @total_s: (out) (optional): Seconds the whole call may take: the
 *   deployment's `timeout`, else `router_settings.timeout`, else
 *   `litellm_settings.request_timeout`; 0 for none.
 * @first_token_s: (out) (optional): Seconds until the first token (or the
 *   response headers of a non-streamed call) may take before the attempt
 *   counts as a %LCTL_ROUTE_FAILURE_TIMEOUT: the deployment's
 *   `stream_timeout`, else `router_settings.stream_timeout`; 0 for none.
 *
 * The timeouts the pipeline arms for an attempt.
 */
void
lctl_router_deployment_timeouts (const LctlConfig     *config,
                                 const LctlDeployment *deployment,
                                 double               *total_s,
                                 double               *first_token_s)
{
  double total = deployment->timeout;
  double first = deployment->stream_timeout;

  if (total <= 0)
    total = config->router.timeout;
  if (total <= 0)
    total = config->request_timeout;
  if (first <= 0)
    first = config->router.stream_timeout;

  if (total_s)
    *total_s = MAX (total, 0);
  if (first_token_s)
    *first_token_s = MAX (first, 0);
}

/* Failure kinds */

static gboolean
contains_any (const char        *haystack,
              const char *const *needles)
{
  g_autofree char *lower = g_ascii_strdown (haystack, -1);

  for (unsigned i = 0; needles[i]; i++)
    if (strstr (lower, needles[i]))
      return TRUE;
  return FALSE;
}

/**
 * lctl_route_failure_kind_classify:
 * @status: The upstream's HTTP status, 0 when there was no answer.
 * @error_text: (nullable): The upstream's error message or body.
 *
 * Maps an upstream failure to a kind. Context-window and content-policy
 * errors are recognised from the message, since providers send them as
 * plain 400s. Timeouts and in-stream errors are for the caller to name.
 *
 * Returns: The kind.
 */
LctlRouteFailureKind
lctl_route_failure_kind_classify (int         status,
                                  const char *error_text)
{
  static const char *const context_markers[] = {
    "context length", "context_length", "context window", "context_window",
    "prompt is too long", "maximum context", "too many tokens",
    "input is too long", "exceeds the maximum", "token limit", NULL
  };
  static const char *const policy_markers[] = {
    "content policy", "content_policy", "content_filter", "content management policy",
    "safety system", NULL
  };

  if (status >= 400 && status < 500 && status != 429 && error_text)
    {
      if (contains_any (error_text, context_markers))
        return LCTL_ROUTE_FAILURE_CONTEXT_WINDOW;
      if (contains_any (error_text, policy_markers))
        return LCTL_ROUTE_FAILURE_CONTENT_POLICY;
    }

  switch (status)
    {
    case 0:
      return LCTL_ROUTE_FAILURE_CONNECTION;
    case 400:
    case 422:
      return LCTL_ROUTE_FAILURE_BAD_REQUEST;
    case 401:
    case 403:
      return LCTL_ROUTE_FAILURE_AUTH;
    case 404:
      return LCTL_ROUTE_FAILURE_NOT_FOUND;
    case 408:
      return LCTL_ROUTE_FAILURE_TIMEOUT;
    case 413:
      return LCTL_ROUTE_FAILURE_CONTEXT_WINDOW;
    case 429:
      return LCTL_ROUTE_FAILURE_RATE_LIMIT;
    case 529:
      return LCTL_ROUTE_FAILURE_OVERLOADED;
    default:
      if (status >= 500)
        return LCTL_ROUTE_FAILURE_SERVER;
      return LCTL_ROUTE_FAILURE_OTHER;
    }
}

/**
 * lctl_route_failure_kind_is_retryable:
 * @kind: A failure kind.
 *
 * Returns: Whether `num_retries` applies: connection errors, timeouts, 429,
 *   5xx and 529. The others go straight to the fallbacks.
 */
gboolean
lctl_route_failure_kind_is_retryable (LctlRouteFailureKind kind)
{
  switch (kind)
    {
    case LCTL_ROUTE_FAILURE_CONNECTION:
    case LCTL_ROUTE_FAILURE_TIMEOUT:
    case LCTL_ROUTE_FAILURE_RATE_LIMIT:
    case LCTL_ROUTE_FAILURE_OVERLOADED:
    case LCTL_ROUTE_FAILURE_SERVER:
      return TRUE;
    default:
      return FALSE;
    }
}

/**
 * lctl_route_failure_counts_for_cooldown:
 * @kind: A failure kind.
 * @status: The HTTP status.
 *
 * LiteLLM counts 429, 401, 404, 408 and 5xx. Connection errors and timeouts
 * count here too (LiteLLM ignores them): a dead upstream must leave the
 * rotation rather than cost every request its retries.
 *
 * Returns: Whether the failure counts towards `allowed_fails`.
 */
gboolean
lctl_route_failure_counts_for_cooldown (LctlRouteFailureKind kind,
                                        int                  status)
{
  switch (kind)
    {
    case LCTL_ROUTE_FAILURE_CONNECTION:
    case LCTL_ROUTE_FAILURE_TIMEOUT:
    case LCTL_ROUTE_FAILURE_RATE_LIMIT:
    case LCTL_ROUTE_FAILURE_OVERLOADED:
    case LCTL_ROUTE_FAILURE_SERVER:
    case LCTL_ROUTE_FAILURE_NOT_FOUND:
      return TRUE;
    case LCTL_ROUTE_FAILURE_AUTH:
      return status != 403;
    default:
      return status >= 500;
    }
}

/**
 * lctl_route_failure_kind_to_string:
 * @kind: A failure kind.
 *
 * Returns: A short name ("rate_limit", ...), for logs and headers.
 */
const char *
lctl_route_failure_kind_to_string (LctlRouteFailureKind kind)
{
  switch (kind)
    {
    case LCTL_ROUTE_FAILURE_NONE:
      return "none";
    case LCTL_ROUTE_FAILURE_CONNECTION:
      return "connection";
    case LCTL_ROUTE_FAILURE_TIMEOUT:
      return "timeout";
    case LCTL_ROUTE_FAILURE_RATE_LIMIT:
      return "rate_limit";
    case LCTL_ROUTE_FAILURE_OVERLOADED:
      return "overloaded";
    case LCTL_ROUTE_FAILURE_SERVER:
      return "server";
    case LCTL_ROUTE_FAILURE_AUTH:
      return "auth";
    case LCTL_ROUTE_FAILURE_NOT_FOUND:
      return "not_found";
    case LCTL_ROUTE_FAILURE_CONTEXT_WINDOW:
      return "context_window";
    case LCTL_ROUTE_FAILURE_CONTENT_POLICY:
      return "content_policy";
    case LCTL_ROUTE_FAILURE_BAD_REQUEST:
      return "bad_request";
    case LCTL_ROUTE_FAILURE_CANCELLED:
      return "cancelled";
    case LCTL_ROUTE_FAILURE_OTHER:
    default:
      return "other";
    }
}
