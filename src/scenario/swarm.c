/* Swarm testing's feature half (Groce, Zhang, Eide, Chen, Regehr, "Swarm Testing", ISSTA
 * 2012): under RSV_SCHED_SWARM each run leaves out a random half of the optional behaviours,
 * the scenarios' declared parameters and a user program's options alike. A bug that one
 * behaviour suppresses (a second writer that keeps the pool busy, say) is found in the runs
 * that leave it out, which a fixed configuration never does. The scheduling half, per-run
 * thread weights, is the simulator's (platform/sim.c).
 *
 * The coin is a hash of the seed and the option's number, not a draw from the scheduler's
 * random stream: asking it adds no decision, asks in any order get the same answers, and a
 * replay of the seed gets the same configuration. */
#include "scenario/internal.h"

bool rsv_swarm_coin(uint64_t seed, unsigned i)
{
	/* splitmix64's finaliser over the seed and the option: neighbouring seeds and options
	 * give unrelated bits. The constant keeps the coins apart from the scheduler's stream,
	 * which splitmix64 seeds from the same seed. */
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + ((uint64_t)i + 1) * 0xd1b54a32d192ed03ULL +
		     0x5357524d53574152ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return ((z ^ (z >> 31)) >> 63) != 0;
}

bool rsv_swarm_option(const struct rsv_system *sys, unsigned i)
{
	const struct rsv_system_config *cfg = rsv_system_config(sys);

	return cfg->backend != RSV_BACKEND_SIM || cfg->sched.strategy != RSV_SCHED_SWARM ||
	       !rsv_swarm_coin(cfg->seed, i);
}

uint32_t rsv_scenario_swarm(const struct rsv_scenario *s, struct rsv_scenario_opts *o)
{
	uint32_t alt = 0;

	if (o->sched.strategy != RSV_SCHED_SWARM)
		return 0;
	for (unsigned i = 0; i < s->nr_params; i++) {
		const struct rsv_scenario_param *p = &s->params[i];

		if (!p->swarm || (o->params_given & (1u << i)))
			continue;
		o->params[i] = p->def;
		if (rsv_swarm_coin(o->seed, i)) {
			o->params[i] = p->swarm_alt;
			alt |= 1u << i;
		}
	}
	return alt;
}
