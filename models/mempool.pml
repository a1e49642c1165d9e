/* mempool_alloc()/mempool_free() as reservoir implements them (src/pool/mempool.c), for spin.
 *
 * N tasks each allocate an element ROUNDS times, hold it for a while and free it. Elements
 * have identities: ids 0..M-1 start in the reserve, ids M..M+B-1 are what the backing
 * allocator can hand out, and it may fail at any call. A task that finds the reserve empty
 * waits on pool->wait and is woken by a free that refills the reserve; a wake-up may be lost
 * (LOSSY), and unless NO_REPOLL the wait times out and the task polls again (the kernel's
 * io_schedule_timeout(5*HZ)).
 *
 * POLICY 0 is upstream: the first pass never dips into the zone reserves. POLICY 1 is 2016
 * (f9054c70d28b): once the pool is empty the backing allocator may take a page below min
 * (RESERVE of them in all), which the model counts so that draining it shows.
 *
 * Safety, asserted at every step: the reserve holds at most M; no element is in two places;
 * every element is somewhere (the reserve, a task, or back in the backing allocator).
 * Liveness (ltl all_done, under weak fairness): every task finishes its rounds.
 * Negative controls: HOLD_TWO (a task takes a second element while holding one, M = 1)
 * and NO_REPOLL with LOSSY (no timed re-poll, lost wake-ups) must each fail. */

#ifndef N
#define N 3
#endif
#ifndef M
#define M 2
#endif
#ifndef B
#define B 2
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#ifndef POLICY
#define POLICY 0
#endif
#ifndef RESERVE
#define RESERVE 1
#endif

#define ALL ((1 << (M + B)) - 1)
#define POOL_IDS ((1 << M) - 1)

byte pool = POOL_IDS;     /* element ids in the reserve */
byte backing = ALL & ~POOL_IDS; /* ids the backing allocator holds */
byte hold[N];             /* ids each task holds */
byte waiting;             /* a bit per task asleep on pool->wait */
byte below_min = 0;       /* 2016: pages taken below min */
byte finished = 0;

inline count(set, n) {
	n = 0;
	k = 0;
	do
	:: k < M + B -> if :: (set >> k) & 1 -> n++ :: else fi; k++
	:: else -> break
	od
}

inline lowest(set, id) {
	id = 0;
	do
	:: (set >> id) & 1 -> break
	:: else -> id++
	od
}

inline check() {
	count(pool, n);
	assert(n <= M);
	j = 0;
	all = pool | backing;
	do
	:: j < N ->
		assert((hold[j] & pool) == 0 && (hold[j] & backing) == 0);
		i2 = j + 1;
		do
		:: i2 < N -> assert((hold[j] & hold[i2]) == 0); i2++
		:: else -> break
		od;
		all = all | hold[j];
		j++
	:: else -> break
	od;
	assert((pool & backing) == 0 && all == ALL)
}

/* The backing allocator: any id it has, or failure. 2016 with the reserve empty may also use
 * a page below min, while there are any. */
inline backing_alloc(me, ok) {
	ok = false;
	if
	:: backing != 0 ->
		lowest(backing, id);
		if
		:: POLICY == 1 && pool == 0 && below_min < RESERVE -> below_min++; ok = true
		:: ok = true
		:: skip /* fails: memory is short */
		fi;
		if
		:: ok -> backing = backing & ~(1 << id); hold[me] = hold[me] | (1 << id)
		:: else
		fi
	:: else
	fi
}

inline mempool_alloc(me) {
	do
	:: atomic {
		backing_alloc(me, ok);
		if
		:: ok -> break
		:: else
		fi;
		if
		:: pool != 0 ->
			lowest(pool, id);
			pool = pool & ~(1 << id);
			hold[me] = hold[me] | (1 << id);
			break
		:: else -> waiting = waiting | (1 << me) /* prepare_to_wait, then sleep */
		fi
	   }
	   /* asleep: woken, or (unless NO_REPOLL) a timeout that polls again */
#ifdef NO_REPOLL
	   (((waiting >> me) & 1) == 0)
#else
	   if
	   :: (((waiting >> me) & 1) == 0)
	   :: atomic { waiting = waiting & ~(1 << me) }
	   fi
#endif
	od
}

/* Frees one element @me holds: into the reserve while it is short, else back to the backing
 * allocator; a refill wakes the waiters (a wake-up may be lost under LOSSY). */
inline mempool_free(me) {
	atomic {
		lowest(hold[me], id);
		hold[me] = hold[me] & ~(1 << id);
		count(pool, n);
		if
		:: n < M ->
			pool = pool | (1 << id);
#ifdef LOSSY
			if
			:: waiting = 0
			:: skip
			fi
#else
			waiting = 0
#endif
		:: else -> backing = backing | (1 << id)
		fi
	}
}

proctype task(byte me) {
	byte round = 0, id, n, k, j, i2, all;
	bool ok;

	do
	:: round < ROUNDS ->
		mempool_alloc(me);
#ifdef HOLD_TWO
		mempool_alloc(me); /* the second while holding the first: bio_alloc_bioset's warning */
		atomic { check() };
		mempool_free(me);
#endif
		atomic { check() };
		mempool_free(me);
		atomic { check() };
		round++
	:: else -> break
	od;
	atomic { finished++ }
}

init {
	byte t = 0;

	atomic {
		do
		:: t < N -> run task(t); t++
		:: else -> break
		od
	}
}

ltl all_done { <> (finished == N) }
