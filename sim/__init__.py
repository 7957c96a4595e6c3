"""pool-starvation-sim: a discrete-event model of an asyncio server starving on a QueuePool."""
