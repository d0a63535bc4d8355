'use strict'
// kafkajs secure side of Eddy's interop test (interop/security_test.go):
// one produce or one group consume over SASL_SSL, reporting kafkajs's
// error. Reads the JSON request described in ../py/secure_client.py on
// stdin, writes {"records": n, "error": ...} on stdout.

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

// kafkajs logs some protocol errors instead of returning them (a
// FindCoordinator refused with GROUP_AUTHORIZATION_FAILED surfaces as
// KafkaJSGroupCoordinatorNotFound); the authorization errors it logged
// are added to the reported error.
const logged = new Set()
const logCreator = () => ({ log }) => {
  const text = JSON.stringify(log, (k, v) => v instanceof Error ? { type: v.type, message: v.message } : v)
  for (const m of text.match(/[A-Z_]+_AUTHORIZATION_FAILED/g) || []) logged.add(m)
}

async function run (req) {
  const kafka = new Kafka({
    logCreator,
    clientId: 'eddy-interop-kafkajs-secure',
    brokers: req.bootstrap.split(','),
    ssl: { ca: [fs.readFileSync(req.ca, 'utf-8')] },
    sasl: { mechanism: req.mechanism.toLowerCase(), username: req.user, password: req.password },
    retry: { retries: 0 },
    logLevel: logLevel.DEBUG
  })
  const timeout = req.timeout_ms || 15000
  if (req.op === 'produce') {
    const producer = kafka.producer({ retry: { retries: 0 } })
    await producer.connect()
    try {
      const messages = []
      for (let i = 0; i < req.count; i++) messages.push({ value: `kafkajs-${i}` })
      await producer.send({ topic: req.topic, messages, acks: -1, timeout })
    } finally {
      await producer.disconnect()
    }
    return req.count
  }
  const consumer = kafka.consumer({ groupId: req.group, retry: { retries: 0 } })
  let n = 0
  try {
    await consumer.connect()
    await consumer.subscribe({ topic: req.topic, fromBeginning: true })
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${n} of ${req.count} records in time`)), timeout)
      consumer.on(consumer.events.CRASH, e => { clearTimeout(timer); reject(e.payload.error) })
      consumer.run({
        autoCommit: false,
        eachMessage: async () => {
          n++
          if (n >= req.count) { clearTimeout(timer); resolve() }
        }
      }).catch(e => { clearTimeout(timer); reject(e) })
    })
  } finally {
    await consumer.disconnect().catch(() => {})
  }
  return n
}

let input = ''
process.stdin.on('data', d => { input += d })
process.stdin.on('end', async () => {
  const req = JSON.parse(input)
  let resp
  try {
    resp = { records: await run(req), error: null }
  } catch (e) {
    resp = { records: 0, error: `${e.name}: ${e.type || ''} ${e.message}; logged: ${[...logged].join(', ')}` }
  }
  process.stdout.write(JSON.stringify(resp))
  process.exit(0)
})
