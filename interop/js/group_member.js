'use strict'
// One kafkajs consumer-group member for Eddy's group interop test
// (interop/groups_test.go); the protocol is the one of
// ../py/group_member.py:
//
//   node group_member.js CONFIG_JSON
//
// CONFIG_JSON: {"bootstrap", "group", "topic", "client_id", "reset":
// "earliest"|"latest", "session_timeout_ms"}. kafkajs's own assigner
// (round robin) shares the partitions.
//
// Every batch is "processed" (written to stdout), then its offsets are
// committed (autoCommit off): at-least-once. Stdout carries JSON events,
// one per line: {"ev":"assigned","partitions":[...]}, {"ev":"recs","recs":
// [{"p","o","v"}]}, {"ev":"committed","offsets":{p:o}} (acknowledged),
// {"ev":"error","msg"}, {"ev":"closed"}. A line "close" on stdin, or its end, makes the member disconnect cleanly (leave the
// group) and exit 0. Logs go to stderr.

const readline = require('readline')
const { Kafka, logLevel } = require('kafkajs')

const log = (...args) => process.stderr.write(args.join(' ') + '\n')
const emit = ev => process.stdout.write(JSON.stringify(ev) + '\n')

const logCreator = () => ({ namespace, level, label, log: entry }) => {
  const { message, ...extra } = entry
  log(`kafkajs ${label} [${namespace}] ${message} ${JSON.stringify(extra)}`)
}

async function main () {
  const cfg = JSON.parse(process.argv[2])
  const kafka = new Kafka({
    clientId: cfg.client_id,
    brokers: cfg.bootstrap.split(',').map(s => s.trim()).filter(Boolean),
    logLevel: process.env.KAFKAJS_LOG === 'debug' ? logLevel.DEBUG : logLevel.WARN,
    logCreator,
    connectionTimeout: 5000,
    requestTimeout: 20000,
    // Keep retrying while the broker restarts.
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 }
  })
  const consumer = kafka.consumer({
    groupId: cfg.group,
    sessionTimeout: cfg.session_timeout_ms,
    heartbeatInterval: 1000,
    rebalanceTimeout: 30000,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false
  })
  consumer.on(consumer.events.GROUP_JOIN, e => {
    const parts = e.payload.memberAssignment[cfg.topic] || []
    emit({ ev: 'assigned', partitions: [...parts].sort((a, b) => a - b) })
  })
  consumer.on(consumer.events.CRASH, e => {
    emit({ ev: 'error', msg: `crash (restart: ${e.payload.restart}): ${e.payload.error}` })
    if (!e.payload.restart) process.exit(1) // the consumer has stopped for good
  })

  let closing = null
  const close = () => {
    if (!closing) {
      closing = (async () => {
        await consumer.disconnect() // leaves the group
        emit({ ev: 'closed' })
        process.exit(0)
      })().catch(e => {
        log(e.stack || e)
        process.exit(1)
      })
    }
    return closing
  }
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', line => { if (line.trim() === 'close') close() })
  rl.on('close', close)

  await consumer.connect()
  await consumer.subscribe({ topics: [cfg.topic], fromBeginning: cfg.reset === 'earliest' })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return
      const recs = batch.messages.map(m => ({ p: batch.partition, o: Number(m.offset), v: m.value.toString() }))
      emit({ ev: 'recs', recs }) // processed
      const last = recs[recs.length - 1].o
      resolveOffset(String(last))
      try {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(last + 1) }])
        emit({ ev: 'committed', offsets: { [batch.partition]: last + 1 } })
      } catch (e) {
        emit({ ev: 'error', msg: `commit: ${e.message || e}` })
      }
    }
  })
}

main().catch(e => {
  log(e.stack || e)
  process.exit(1)
})
