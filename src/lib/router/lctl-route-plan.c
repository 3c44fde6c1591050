/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-router"

#include <math.h>
#include <string.h>

#include "lctl-error.h"
#include "lctl-route-plan.h"
#include "lctl-router-private.h"

/* How a request is routed (LiteLLM's semantics, with the fixes users asked
 * for marked "unlike LiteLLM"):
 *
 * - The requested model resolves to a group (alias, exact, undated, glob).
 * - Within a group: up to 1 + num_retries attempts. A deployment not yet
 *   tried by this request and not cooling down is picked by the routing
 *   strategy and tried at once; trying the same one again waits
 *   max (retry_after, upstream Retry-After), capped by max_cooldown_time.
 *   Only connection errors, timeouts, 429, 5xx and 529 are retried; 401,
 *   403, 404, context-window and content-policy errors go straight to the
 *   fallbacks; any other 400 ends the request (no deployment will take a
 *   malformed request).
 * - A group whose deployments are all cooling down is skipped at once.
 * - Fallbacks: after a group is done, its chain (context_window_fallbacks
 *   or content_policy_fallbacks for those errors when the group has one,
 *   else the body's `fallbacks`, else router_settings.fallbacks, else the
 *   "*" entry) is walked in order, depth-first into fallbacks of fallbacks,
 *   each group with its own retries; a group is never visited twice, and
 *   no chain is followed from a group max_fallbacks levels deep.
 * - Cooldowns (lctl-router.c): more than allowed_fails counted failures
 *   within cooldown_time bench a deployment for cooldown_time; unlike
 *   LiteLLM, connection errors and timeouts count, an upstream Retry-After
 *   longer than cooldown_time benches it at once for that long, always
 *   capped by max_cooldown_time, and a success ends a cooldown.
 * - After lctl_route_plan_commit() (first byte to the client) nothing is
 *   retried or replaced; failures only update health.
 * - When nothing could even be tried (everything cooling down) the plan
 *   fails with a 429 whose retry_after says when the first comes back.
 */

typedef enum
{
  STRATEGY_SIMPLE_SHUFFLE,
  STRATEGY_LEAST_BUSY,
  STRATEGY_LATENCY,
} Strategy;

/* One level of the fallback walk: the chain of a group that failed. */
typedef struct
{
  char   **chain; /* borrowed from the config or the plan */
  unsigned next;
  unsigned depth; /* of the group the chain belongs to */
} Frame;

/* What this request learnt about a deployment it tried. */
typedef struct
{
  double retry_after;
} TriedDeployment;

struct _LctlRoutePlan
{
  LctlRouter       *router;
  const LctlConfig *config;
  char             *requested_model;
  char             *primary_group;
  Strategy          strategy;

  /* Per-request `fallbacks` from the body. */
  char     **request_chain;
  GPtrArray *request_table; /* (element-type LctlFallback) */

  GHashTable *visited_groups;
  GArray     *frames;

  /* The group being tried. */
  char                *group;
  char                *group_request_name; /* the name that led here, for wildcards */
  unsigned             depth;
  unsigned             tries;
  gboolean             group_active;
  LctlRouteFailureKind group_end_kind;
  GHashTable          *tried; /* LctlDeploymentState* -> TriedDeployment* */

  GPtrArray              *attempts; /* (element-type LctlRouteAttemptRecord) */
  LctlRouteAttemptRecord *outstanding;
  LctlDeploymentState    *outstanding_state;

  gboolean committed;
  gboolean finished;
  int      served;

  gboolean         has_failure;
  LctlRouteOutcome last_failure;
  char            *last_failure_error;
  gint64           earliest_cooldown_end; /* monotonic µs, of groups skipped as cooling */
};

static void
attempt_record_free (gpointer data)
{
  LctlRouteAttemptRecord *record = data;

  g_free (record->model_group);
  g_free (record->deployment_id);
  g_free (record->deployment_model);
  g_free (record->upstream_model);
  g_free (record->error);
  g_free (record);
}

static void
fallback_free (gpointer data)
{
  LctlFallback *fallback = data;

  g_free (fallback->model_name);
  g_strfreev (fallback->chain);
  g_free (fallback);
}

static Strategy
parse_strategy (const char *name)
{
  if (g_strcmp0 (name, "least-busy") == 0)
    return STRATEGY_LEAST_BUSY;
  if (g_strcmp0 (name, "latency-based-routing") == 0)
    return STRATEGY_LATENCY;
  if (name && g_strcmp0 (name, "simple-shuffle") != 0)
    g_debug ("routing_strategy %s is not supported; using simple-shuffle", name);
  return STRATEGY_SIMPLE_SHUFFLE;
}

static char **
strv_from_json_array (JsonArray *array)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (unsigned i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING)
        return NULL;
      g_strv_builder_add (builder, json_node_get_string (element));
    }
  return g_strv_builder_end (builder);
}

/* LiteLLM accepts `fallbacks` in the body either as a list of model names
 * (fallbacks of the requested model, replacing the configured ones) or in
 * the router_settings form, a list of {group: [...]} maps (replacing the
 * configured chain of each group named; other groups keep theirs). */
static gboolean
parse_request_fallbacks (LctlRoutePlan *self,
                         JsonNode      *node,
                         GError       **error)
{
  JsonArray *array;
  unsigned   length;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    goto invalid;

  array = json_node_get_array (node);
  length = json_array_get_length (array);
  if (length == 0)
    {
      /* An explicit empty list: no fallbacks for this request. */
      self->request_chain = g_new0 (char *, 1);
      return TRUE;
    }

  if (JSON_NODE_HOLDS_VALUE (json_array_get_element (array, 0)))
    {
      self->request_chain = strv_from_json_array (array);
      if (self->request_chain == NULL)
        goto invalid;
      return TRUE;
    }

  self->request_table = g_ptr_array_new_with_free_func (fallback_free);
  for (unsigned i = 0; i < length; i++)
    {
      JsonNode   *element = json_array_get_element (array, i);
      JsonObject *object;
      g_autoptr (GList) members = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        goto invalid;
      object = json_node_get_object (element);
      members = json_object_get_members (object);
      for (GList *l = members; l; l = l->next)
        {
          JsonNode     *chain_node = json_object_get_member (object, l->data);
          LctlFallback *fallback;
          char        **chain;

          if (!JSON_NODE_HOLDS_ARRAY (chain_node))
            goto invalid;
          chain = strv_from_json_array (json_node_get_array (chain_node));
          if (chain == NULL)
            goto invalid;
          fallback = g_new0 (LctlFallback, 1);
          fallback->model_name = g_strdup (l->data);
          fallback->chain = chain;
          g_ptr_array_add (self->request_table, fallback);
        }
    }
  return TRUE;

invalid:
  g_set_error_literal (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                       "\"fallbacks\" must be a list of model names or of {\"model\": [fallbacks]} maps");
  return FALSE;
}

static void
begin_group (LctlRoutePlan *self,
             const char    *group,
             const char    *request_name,
             unsigned       depth)
{
  g_free (self->group);
  self->group = g_strdup (group);
  g_free (self->group_request_name);
  self->group_request_name = g_strdup (request_name);
  self->depth = depth;
  self->tries = 0;
  self->group_active = TRUE;
  self->group_end_kind = LCTL_ROUTE_FAILURE_NONE;
  g_hash_table_remove_all (self->tried);
  g_hash_table_add (self->visited_groups, g_strdup (group));
}

/**
 * lctl_router_plan:
 * @router: The daemon's router.
 * @config: The configuration snapshot the request holds; it must outlive
 *   the plan (the plan borrows its deployments).
 * @requested_model: The `model` of the request.
 * @request_fallbacks: (nullable): The request body's `fallbacks` member:
 *   a list of model names (they replace the requested group's configured
 *   chain) or a list of `{group: [names]}` maps (they replace the chains of
 *   the groups named).
 * @error: Set to %LCTL_ERROR_NOT_FOUND when no group serves
 *   @requested_model, or %LCTL_ERROR_INVALID_ARGUMENT for a malformed
 *   @request_fallbacks.
 *
 * Starts routing a request. Drive it with lctl_route_plan_next() and
 * lctl_route_plan_report() until next returns %FALSE.
 *
 * Returns: (transfer full) (nullable): The plan.
 */
LctlRoutePlan *
lctl_router_plan (LctlRouter       *router,
                  const LctlConfig *config,
                  const char       *requested_model,
                  JsonNode         *request_fallbacks,
                  GError          **error)
{
  g_autoptr (LctlRoutePlan) self = NULL;
  g_autofree char *group = NULL;

  g_return_val_if_fail (LCTL_IS_ROUTER (router), NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  group = lctl_router_resolve_group (config, requested_model, NULL);
  if (group == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                   "No model group serves “%s”", requested_model ? requested_model : "");
      return NULL;
    }

  self = g_new0 (LctlRoutePlan, 1);
  self->router = g_object_ref (router);
  self->config = config;
  self->requested_model = g_strdup (requested_model);
  self->primary_group = g_strdup (group);
  self->strategy = parse_strategy (config->router.routing_strategy);
  self->visited_groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  self->tried = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->attempts = g_ptr_array_new_with_free_func (attempt_record_free);
  self->served = -1;

  if (!parse_request_fallbacks (self, request_fallbacks, error))
    return NULL;

  begin_group (self, group, requested_model, 0);
  return g_steal_pointer (&self);
}

/**
 * lctl_route_plan_free:
 * @self: (transfer full): A plan.
 *
 * Frees the plan. An attempt still outstanding (the client went away) is
 * taken off the in-flight count without counting as a failure.
 */
void
lctl_route_plan_free (LctlRoutePlan *self)
{
  if (self == NULL)
    return;

  if (self->outstanding_state && self->outstanding_state->in_flight > 0)
    self->outstanding_state->in_flight--;

  g_clear_object (&self->router);
  g_free (self->requested_model);
  g_free (self->primary_group);
  g_strfreev (self->request_chain);
  g_clear_pointer (&self->request_table, g_ptr_array_unref);
  g_clear_pointer (&self->visited_groups, g_hash_table_unref);
  g_clear_pointer (&self->frames, g_array_unref);
  g_free (self->group);
  g_free (self->group_request_name);
  g_clear_pointer (&self->tried, g_hash_table_unref);
  g_clear_pointer (&self->attempts, g_ptr_array_unref);
  g_free (self->last_failure_error);
  g_free (self);
}

static const LctlFallback *
find_fallback (GPtrArray  *fallbacks,
               const char *group)
{
  for (unsigned i = 0; fallbacks && i < fallbacks->len; i++)
    {
      const LctlFallback *fallback = g_ptr_array_index (fallbacks, i);

      if (g_strcmp0 (fallback->model_name, group) == 0)
        return fallback;
    }
  return NULL;
}

/* The chain to walk after @group failed with @kind. Context-window and
 * content-policy errors take their own chains when the group has one (a
 * rate-limit chain of smaller models would not help a too-long prompt), and
 * the ordinary chain otherwise, as LiteLLM does. */
static char **
chain_for (LctlRoutePlan       *self,
           const char          *group,
           unsigned             depth,
           LctlRouteFailureKind kind)
{
  const LctlRouterSettings *settings = &self->config->router;
  const LctlFallback       *fallback = NULL;

  if (kind == LCTL_ROUTE_FAILURE_CONTEXT_WINDOW)
    fallback = find_fallback (settings->context_window_fallbacks, group);
  else if (kind == LCTL_ROUTE_FAILURE_CONTENT_POLICY)
    fallback = find_fallback (settings->content_policy_fallbacks, group);
  if (fallback)
    return fallback->chain;

  if (depth == 0 && self->request_chain)
    return self->request_chain;
  fallback = find_fallback (self->request_table, group);
  if (fallback == NULL)
    fallback = find_fallback (settings->fallbacks, group);
  if (fallback == NULL)
    fallback = find_fallback (settings->fallbacks, "*");
  return fallback ? fallback->chain : NULL;
}

/* Moves to the next group of the fallback walk: depth-first, as LiteLLM
 * recurses into the fallbacks of a fallback; a group is never visited
 * twice, and no chain is followed from a group at depth max_fallbacks. */
static gboolean
advance_group (LctlRoutePlan *self)
{
  int    max_fallbacks = self->config->router.max_fallbacks;
  char **chain;

  chain = chain_for (self, self->group, self->depth, self->group_end_kind);
  if (chain && (int) self->depth < max_fallbacks)
    {
      Frame frame = { chain, 0, self->depth };

      g_array_append_val (self->frames, frame);
    }

  while (self->frames->len > 0)
    {
      Frame           *top = &g_array_index (self->frames, Frame, self->frames->len - 1);
      g_autofree char *group = NULL;
      const char      *name;
      unsigned         depth;

      if (top->chain[top->next] == NULL)
        {
          g_array_set_size (self->frames, self->frames->len - 1);
          continue;
        }

      name = top->chain[top->next++];
      depth = top->depth + 1;
      group = lctl_router_resolve_group (self->config, name, NULL);
      if (group == NULL)
        {
          g_debug ("Fallback %s of %s serves no model group; skipped", name, self->requested_model);
          continue;
        }
      if (g_hash_table_contains (self->visited_groups, group))
        continue;

      begin_group (self, group, name, depth);
      return TRUE;
    }

  return FALSE;
}

typedef struct
{
  const LctlDeployment *deployment;
  LctlDeploymentState  *state;
} Candidate;

static double
latency_score (LctlDeploymentState *state)
{
  /* Time to first token is what a streaming client feels and does not
   * grow with the answer's length; total latency when that is all we have.
   * Unknown deployments score 0 so they get measured. */
  if (state->has_ttft)
    return state->ttft_ms;
  if (state->has_latency)
    return state->latency_ms;
  return 0;
}

static unsigned
pick_candidate (LctlRoutePlan *self,
                GArray        *candidates)
{
  GRand   *rand = lctl_router_get_rand (self->router);
  unsigned best = 0;

  if (candidates->len == 1)
    return 0;

  switch (self->strategy)
    {
    case STRATEGY_LEAST_BUSY:
      {
        unsigned ties = 0;

        /* Fewest in flight; ties broken at random so idle deployments
         * share the load. */
        for (unsigned i = 0; i < candidates->len; i++)
          {
            Candidate *c = &g_array_index (candidates, Candidate, i);
            Candidate *b = &g_array_index (candidates, Candidate, best);

            if (i == 0 || c->state->in_flight < b->state->in_flight)
              {
                best = i;
                ties = 1;
              }
            else if (c->state->in_flight == b->state->in_flight && g_rand_int_range (rand, 0, (gint32) ++ties) == 0)
              best = i;
          }
        return best;
      }

    case STRATEGY_LATENCY:
      for (unsigned i = 1; i < candidates->len; i++)
        {
          Candidate *c = &g_array_index (candidates, Candidate, i);
          Candidate *b = &g_array_index (candidates, Candidate, best);

          if (latency_score (c->state) < latency_score (b->state))
            best = i;
        }
      return best;

    case STRATEGY_SIMPLE_SHUFFLE:
    default:
      {
        double total = 0, point;

        for (unsigned i = 0; i < candidates->len; i++)
          total += MAX (g_array_index (candidates, Candidate, i).deployment->weight, 0);
        if (total <= 0)
          return (unsigned) g_rand_int_range (rand, 0, (gint32) candidates->len);

        point = g_rand_double_range (rand, 0, total);
        for (unsigned i = 0; i < candidates->len; i++)
          {
            point -= MAX (g_array_index (candidates, Candidate, i).deployment->weight, 0);
            if (point < 0)
              return i;
          }
        return candidates->len - 1;
      }
    }
}

static unsigned
retry_wait_ms (LctlRoutePlan   *self,
               TriedDeployment *tried)
{
  const LctlRouterSettings *settings = &self->config->router;
  double                    max_cooldown = settings->max_cooldown_time > 0 ? settings->max_cooldown_time : 60.0;
  double                    wait = MAX (settings->retry_after, tried ? tried->retry_after : 0);

  wait = MIN (wait, max_cooldown);
  if (wait <= 0)
    return 0;
  return (unsigned) ceil (wait * 1000.0);
}

/* Chooses the next deployment of the current group, or returns FALSE when
 * the group is done (retries spent, or every deployment cooling down). */
static gboolean
pick_in_group (LctlRoutePlan    *self,
               LctlRouteAttempt *out)
{
  const LctlConfig *config = self->config;
  unsigned          max_tries = 1 + (unsigned) MAX (config->router.num_retries, 0);
  g_autoptr (GArray) healthy = g_array_new (FALSE, FALSE, sizeof (Candidate));
  g_autoptr (GArray) fresh = g_array_new (FALSE, FALSE, sizeof (Candidate));
  LctlRouteAttemptRecord *record;
  TriedDeployment        *tried;
  Candidate               chosen;
  unsigned                wait_ms = 0;
  gint64                  now;

  if (self->tries >= max_tries)
    return FALSE;

  now = lctl_router_now (self->router);
  for (unsigned i = 0; config->deployments && i < config->deployments->len; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);
      Candidate             candidate;

      if (g_strcmp0 (deployment->model_name, self->group) != 0)
        continue;

      candidate.deployment = deployment;
      candidate.state = lctl_router_lookup_state (self->router, config, deployment);
      if (lctl_router_state_is_cooling (self->router, candidate.state, now))
        {
          if (self->earliest_cooldown_end == 0 || candidate.state->cooldown_until < self->earliest_cooldown_end)
            self->earliest_cooldown_end = candidate.state->cooldown_until;
          continue;
        }
      g_array_append_val (healthy, candidate);
      if (!g_hash_table_contains (self->tried, candidate.state))
        g_array_append_val (fresh, candidate);
    }

  if (healthy->len == 0)
    {
      g_debug ("Every deployment of %s is cooling down", self->group);
      return FALSE;
    }

  /* Another healthy deployment is tried at once; the same one again only
   * after the wait the settings and the upstream ask for. */
  if (fresh->len > 0)
    {
      chosen = g_array_index (fresh, Candidate, pick_candidate (self, fresh));
    }
  else
    {
      chosen = g_array_index (healthy, Candidate, pick_candidate (self, healthy));
      wait_ms = retry_wait_ms (self, g_hash_table_lookup (self->tried, chosen.state));
    }

  record = g_new0 (LctlRouteAttemptRecord, 1);
  record->index = self->attempts->len;
  record->model_group = g_strdup (self->group);
  record->deployment_id = g_strdup (chosen.deployment->id);
  record->deployment_model = g_strdup (chosen.deployment->model);
  record->upstream_model = lctl_router_effective_upstream_model (chosen.deployment, self->group_request_name);
  record->wait_ms = wait_ms;
  record->retry = self->tries;
  record->fallback_depth = self->depth;
  record->status = -1;
  g_ptr_array_add (self->attempts, record);

  tried = g_hash_table_lookup (self->tried, chosen.state);
  if (tried == NULL)
    g_hash_table_insert (self->tried, chosen.state, g_new0 (TriedDeployment, 1));

  self->tries++;
  self->outstanding = record;
  self->outstanding_state = chosen.state;
  chosen.state->in_flight++;

  out->index = record->index;
  out->deployment = chosen.deployment;
  out->model_group = record->model_group;
  out->upstream_model = record->upstream_model;
  out->wait_ms = wait_ms;
  out->retry = record->retry;
  out->fallback_depth = record->fallback_depth;
  return TRUE;
}

static void
synthesize_unavailable (LctlRoutePlan *self)
{
  gint64 now = lctl_router_now (self->router);
  double remaining = 0;

  if (self->earliest_cooldown_end > now)
    remaining = ceil ((double) (self->earliest_cooldown_end - now) / G_USEC_PER_SEC);

  g_free (self->last_failure_error);
  self->last_failure_error = g_strdup_printf ("No deployment of “%s” or its fallbacks is available: all are cooling down",
                                              self->primary_group);
  self->has_failure = TRUE;
  self->last_failure = (LctlRouteOutcome){
    .success = FALSE,
    .status = 429,
    .kind = LCTL_ROUTE_FAILURE_RATE_LIMIT,
    .retry_after = remaining,
    .error = self->last_failure_error,
  };
}

/**
 * lctl_route_plan_next:
 * @self: A plan.
 * @out: (out caller-allocates): The attempt to make.
 *
 * The next deployment to try. The caller waits @out->wait_ms (keeping the
 * client's stream alive), sends the request, then calls
 * lctl_route_plan_report() before asking again.
 *
 * Returns: %FALSE when the request has been served, committed, or every
 *   possibility is spent; lctl_route_plan_get_last_failure() then says why.
 */
gboolean
lctl_route_plan_next (LctlRoutePlan    *self,
                      LctlRouteAttempt *out)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (self->outstanding == NULL, FALSE);

  memset (out, 0, sizeof *out);
  if (self->finished || self->committed)
    return FALSE;

  lctl_router_check_cooldowns (self->router);

  for (;;)
    {
      if (self->group_active)
        {
          if (pick_in_group (self, out))
            return TRUE;
          self->group_active = FALSE;
        }

      if (!advance_group (self))
        break;
    }

  self->finished = TRUE;
  if (self->attempts->len == 0)
    synthesize_unavailable (self);
  return FALSE;
}

/**
 * lctl_route_plan_report:
 * @self: A plan.
 * @attempt: The attempt lctl_route_plan_next() returned last.
 * @outcome: What became of it.
 *
 * Records the outcome in the plan and in the router (latency, failures,
 * cooldowns, in-flight count). Report a stream's success when its first
 * event arrives (with lctl_route_plan_commit()) or when it ends; after a
 * commit, report a later failure so that health stays right: the plan will
 * not fall back any more.
 */
void
lctl_route_plan_report (LctlRoutePlan          *self,
                        const LctlRouteAttempt *attempt,
                        const LctlRouteOutcome *outcome)
{
  LctlRouteAttemptRecord *record;
  LctlDeploymentState    *state;

  g_return_if_fail (self != NULL);
  g_return_if_fail (attempt != NULL);
  g_return_if_fail (outcome != NULL);

  if (attempt->index >= self->attempts->len)
    {
      g_critical ("%s: attempt %u is not part of this plan", G_STRFUNC, attempt->index);
      return;
    }
  record = g_ptr_array_index (self->attempts, attempt->index);

  /* A stream committed at its first event may report twice: success at the
   * first byte, and a failure if it breaks later. Only health changes. */
  if (record->finished)
    {
      if (!outcome->success && record->success && record == g_ptr_array_index (self->attempts, self->attempts->len - 1))
        {
          state = lctl_router_lookup_state (self->router, self->config, attempt->deployment);
          lctl_router_record_failure (self->router, state, &self->config->router,
                                      outcome->kind, outcome->status, outcome->retry_after,
                                      outcome->latency_ms, outcome->error);
          g_free (record->error);
          record->error = g_strdup (outcome->error ? outcome->error : lctl_route_failure_kind_to_string (outcome->kind));
        }
      return;
    }

  if (record != self->outstanding)
    {
      g_critical ("%s: attempt %u is not the outstanding one", G_STRFUNC, attempt->index);
      return;
    }

  state = self->outstanding_state;
  self->outstanding = NULL;
  self->outstanding_state = NULL;
  if (state->in_flight > 0)
    state->in_flight--;

  record->finished = TRUE;
  record->success = outcome->success;
  record->latency_ms = outcome->latency_ms;
  record->ttft_ms = outcome->ttft_ms;

  if (outcome->success)
    {
      record->status = outcome->status > 0 ? outcome->status : 200;
      record->kind = LCTL_ROUTE_FAILURE_NONE;
      lctl_router_record_success (self->router, state, outcome->latency_ms, outcome->ttft_ms);
      self->served = (int) record->index;
      self->finished = TRUE;
      return;
    }

  record->status = outcome->status;
  record->kind = outcome->kind;
  record->error = g_strdup (outcome->error ? outcome->error : lctl_route_failure_kind_to_string (outcome->kind));

  lctl_router_record_failure (self->router, state, &self->config->router,
                              outcome->kind, outcome->status, outcome->retry_after,
                              outcome->latency_ms, outcome->error);

  {
    TriedDeployment *tried = g_hash_table_lookup (self->tried, state);

    if (tried)
      tried->retry_after = MAX (outcome->retry_after, 0);
  }

  self->has_failure = TRUE;
  self->last_failure = *outcome;
  /* What the client is told to wait: never more than we bench anything. */
  {
    const LctlRouterSettings *settings = &self->config->router;
    double                    max_cooldown = settings->max_cooldown_time > 0 ? settings->max_cooldown_time : 60.0;

    self->last_failure.retry_after = CLAMP (outcome->retry_after, 0, max_cooldown);
  }
  g_free (self->last_failure_error);
  self->last_failure_error = g_strdup (record->error);
  self->last_failure.error = self->last_failure_error;

  self->group_end_kind = outcome->kind;

  /* After the first byte the client has part of an answer: nothing can be
   * replaced any more. A malformed request fails everywhere, and a client
   * that left wants nothing. */
  if (self->committed || outcome->kind == LCTL_ROUTE_FAILURE_BAD_REQUEST || outcome->kind == LCTL_ROUTE_FAILURE_CANCELLED)
    {
      self->finished = TRUE;
      return;
    }

  if (!lctl_route_failure_kind_is_retryable (outcome->kind))
    self->group_active = FALSE;
}

/**
 * lctl_route_plan_commit:
 * @self: A plan.
 *
 * The first byte went to the client: from now on the plan neither retries
 * nor falls back, and lctl_route_plan_next() returns %FALSE.
 */
void
lctl_route_plan_commit (LctlRoutePlan *self)
{
  g_return_if_fail (self != NULL);

  self->committed = TRUE;
}

gboolean
lctl_route_plan_is_committed (LctlRoutePlan *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->committed;
}

/**
 * lctl_route_plan_get_requested_model:
 * @self: A plan.
 *
 * Returns: The model the client asked for.
 */
const char *
lctl_route_plan_get_requested_model (LctlRoutePlan *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->requested_model;
}

/**
 * lctl_route_plan_get_model_group:
 * @self: A plan.
 *
 * Returns: The group the requested model resolved to.
 */
const char *
lctl_route_plan_get_model_group (LctlRoutePlan *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->primary_group;
}

/**
 * lctl_route_plan_get_attempts:
 * @self: A plan.
 *
 * Returns: (transfer none) (element-type LctlRouteAttemptRecord): Every
 *   attempt so far, in order.
 */
GPtrArray *
lctl_route_plan_get_attempts (LctlRoutePlan *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->attempts;
}

/**
 * lctl_route_plan_get_served:
 * @self: A plan.
 *
 * Returns: (transfer none) (nullable): The attempt that served the request.
 */
const LctlRouteAttemptRecord *
lctl_route_plan_get_served (LctlRoutePlan *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (self->served < 0)
    return NULL;
  return g_ptr_array_index (self->attempts, (unsigned) self->served);
}

/**
 * lctl_route_plan_get_last_failure:
 * @self: A plan.
 * @out: (out caller-allocates): The last failure; @out->error is borrowed.
 *
 * The error to give the client when the plan ended without serving: the
 * last attempt's (its @retry_after capped at `max_cooldown_time`, so it can
 * be passed on as the client's `retry-after`), or, when every deployment
 * was cooling down and nothing was tried, a 429 whose @retry_after says
 * when the first one comes back.
 *
 * Returns: Whether there was a failure.
 */
gboolean
lctl_route_plan_get_last_failure (LctlRoutePlan    *self,
                                  LctlRouteOutcome *out)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!self->has_failure)
    {
      memset (out, 0, sizeof *out);
      return FALSE;
    }
  *out = self->last_failure;
  return TRUE;
}

/**
 * lctl_route_plan_attempts_to_variant:
 * @self: A plan.
 *
 * The "attempts" entry of the D-Bus RequestFinished signal: one dictionary
 * per attempt with "deployment" (s, `provider/model`), "model" (s, the
 * group), "deployment-id" (s), "status" (u), "error" (s, empty on success)
 * and "latency-ms" (d).
 *
 * Returns: (transfer floating): An `aa{sv}` variant.
 */
GVariant *
lctl_route_plan_attempts_to_variant (LctlRoutePlan *self)
{
  GVariantBuilder builder;

  g_return_val_if_fail (self != NULL, NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (unsigned i = 0; i < self->attempts->len; i++)
    {
      LctlRouteAttemptRecord *record = g_ptr_array_index (self->attempts, i);
      GVariantBuilder         dict;

      g_variant_builder_init (&dict, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&dict, "{sv}", "deployment", g_variant_new_string (record->deployment_model ? record->deployment_model : ""));
      g_variant_builder_add (&dict, "{sv}", "model", g_variant_new_string (record->model_group));
      g_variant_builder_add (&dict, "{sv}", "deployment-id", g_variant_new_string (record->deployment_id ? record->deployment_id : ""));
      g_variant_builder_add (&dict, "{sv}", "status", g_variant_new_uint32 ((guint32) MAX (record->status, 0)));
      g_variant_builder_add (&dict, "{sv}", "error", g_variant_new_string (record->error ? record->error : ""));
      g_variant_builder_add (&dict, "{sv}", "latency-ms", g_variant_new_double (record->latency_ms));
      g_variant_builder_add_value (&builder, g_variant_builder_end (&dict));
    }
  return g_variant_builder_end (&builder);
}

/**
 * lctl_route_plan_format_attempts:
 * @self: A plan.
 *
 * A one-line route for a response header and the request's log line:
 * `claude-sonnet-4-5#0=429, kimi-code/kimi-for-coding#5=conn, ...#7=200`
 * (deployment id and status; "conn" when there was no answer, "..." for an
 * attempt still running).
 *
 * Returns: (transfer full): The text.
 */
char *
lctl_route_plan_format_attempts (LctlRoutePlan *self)
{
  GString *text;

  g_return_val_if_fail (self != NULL, NULL);

  text = g_string_new (NULL);
  for (unsigned i = 0; i < self->attempts->len; i++)
    {
      LctlRouteAttemptRecord *record = g_ptr_array_index (self->attempts, i);

      if (i > 0)
        g_string_append (text, ", ");
      g_string_append_printf (text, "%s=", record->deployment_id ? record->deployment_id : record->model_group);
      if (!record->finished)
        g_string_append (text, "...");
      else if (record->status == 0)
        g_string_append (text, record->kind == LCTL_ROUTE_FAILURE_TIMEOUT ? "timeout" : "conn");
      else
        g_string_append_printf (text, "%d", record->status);
    }
  return g_string_free (text, FALSE);
}
