'use strict'
// kafkajs side of Eddy's interop test (interop/client_ext_test.go).
//
// Reads one JSON request on stdin and writes one JSON response on stdout;
// the protocol is the one described in ../py/common.py. Logs go to stderr.
//
// kafkajs has gzip built in. Its other codecs are plug-ins; these are pure
// JavaScript or WebAssembly, so `npm ci` builds nothing natively:
//   snappy: kafkajs-snappy (snappyjs)
//   lz4:    lz4js (LZ4 frame format, as Kafka uses)
//   zstd:   zstd-codec (zstd compiled to WebAssembly)

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4js = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

const zstdReady = new Promise(resolve => ZstdCodec.run(zstd => resolve(zstd)))

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress (encoder) {
    return Buffer.from(lz4js.compress(encoder.buffer))
  },
  async decompress (buffer) {
    return Buffer.from(lz4js.decompress(buffer))
  }
})
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress (encoder) {
    const zstd = await zstdReady
    return Buffer.from(new zstd.Simple().compress(encoder.buffer, 3))
  },
  async decompress (buffer) {
    const zstd = await zstdReady
    // Streaming: frames from other clients may not carry a content size.
    const out = new zstd.Streaming().decompress(buffer)
    if (!out) throw new Error('zstd: cannot decompress')
    return Buffer.from(out)
  }
})

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}

const log = (...args) => process.stderr.write(args.join(' ') + '\n')

const logCreator = () => ({ namespace, level, label, log: entry }) => {
  const { message, ...extra } = entry
  log(`kafkajs ${label} [${namespace}] ${message} ${JSON.stringify(extra)}`)
}

function newKafka (bootstrap, timeoutMs) {
  return new Kafka({
    clientId: 'eddy-interop-kafkajs',
    brokers: bootstrap.split(',').map(s => s.trim()).filter(Boolean),
    logLevel: process.env.KAFKAJS_LOG === "debug" ? logLevel.DEBUG : logLevel.WARN,
    logCreator,
    connectionTimeout: 10000,
    requestTimeout: timeoutMs,
    retry: { retries: 5 }
  })
}

const b64d = s => (s == null ? null : Buffer.from(s, 'base64'))
const b64e = b => (b == null ? null : Buffer.from(b).toString('base64'))

function withTimeout (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function probe () {
  // Round-trips data through every codec.
  const data = Buffer.from('eddy interop probe '.repeat(100) + '\u00fc\u2603')
  for (const [name, type] of Object.entries(CODECS)) {
    if (type === CompressionTypes.None) continue
    const codec = CompressionCodecs[type]()
    const back = await codec.decompress(await codec.compress({ buffer: data }))
    if (!data.equals(back)) throw new Error(`codec ${name} does not round-trip`)
  }
  return { ok: true }
}

async function produce (req) {
  const kafka = newKafka(req.bootstrap, req.job_timeout_ms)
  const results = {}
  for (const job of req.jobs) {
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    try {
      await withTimeout((async () => {
        await producer.connect()
        const messages = job.records.map(r => {
          const headers = {}
          for (const h of r.headers || []) headers[h.key] = b64d(h.value)
          const m = { key: b64d(r.key), value: b64d(r.value), headers, partition: 0 }
          if (r.timestamp) m.timestamp = String(r.timestamp)
          return m
        })
        await producer.send({ topic: job.topic, compression: CODECS[job.codec], acks: -1, messages })
      })(), req.job_timeout_ms, `produce to ${job.topic}`)
      results[job.topic] = {}
    } catch (e) {
      log(e.stack || e)
      results[job.topic] = { error: String(e.message || e) }
    } finally {
      await producer.disconnect().catch(() => {})
    }
  }
  return { results }
}

// consume reads the jobs in rounds, each topic once per round, each round
// with a consumer group of its own (kafkajs consumes only in groups). A
// read from the beginning has no committed offset and starts at the
// earliest one (fromBeginning). A read from a timestamp looks the offset up
// (ListOffsets by timestamp) and seeks there once the consumer runs; kafkajs
// applies a seek before its next fetch and drops fetched data of a partition
// with a pending seek, so nothing before that offset is delivered.
// (admin.setOffsets would do too, but runs a consumer of its own and takes
// seconds.) Once a round has failed the later ones are not run (and fail),
// so that a broker that hangs fails the suite quickly.
async function consume (req) {
  const kafka = newKafka(req.bootstrap, req.job_timeout_ms)
  const results = {}
  const rounds = []
  for (const job of req.jobs) {
    let round = rounds.find(r => !r.some(j => j.topic === job.topic))
    if (!round) rounds.push(round = [])
    round.push(job)
  }
  const admin = kafka.admin()
  await admin.connect()
  try {
    let failed = null
    for (const [i, round] of rounds.entries()) {
      if (failed) {
        for (const job of round) results[job.id] = { records: [], error: `not run: ${failed}` }
        continue
      }
      const groupId = `eddy-interop-kafkajs-${process.pid}-${Date.now()}-${i}`
      const state = new Map() // topic -> { job, start, end, last, records }
      for (const job of round) {
        results[job.id] = { records: [] }
        try {
          const offsets = await withTimeout(admin.fetchTopicOffsets(job.topic), req.job_timeout_ms, 'fetchTopicOffsets')
          const [p] = offsets.filter(p => p.partition === 0)
          const end = Number(p.high)
          let start = Number(p.low)
          if (job.from === 'timestamp') {
            const byTs = await withTimeout(admin.fetchTopicOffsetsByTimestamp(job.topic, job.timestamp), req.job_timeout_ms, 'fetchTopicOffsetsByTimestamp')
            start = Number(byTs.filter(p => p.partition === 0)[0].offset)
          }
          if (start < 0 || start >= end) continue // nothing to read
          state.set(job.topic, { job, start, end, last: start - 1, records: results[job.id].records })
        } catch (e) {
          log(e.stack || e)
          results[job.id].error = String(e.message || e)
        }
      }
      if (state.size === 0) continue
      const pending = () => [...state.values()].filter(s => s.last < s.end - 1)
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false })
      try {
        await withTimeout(new Promise((resolve, reject) => {
          consumer.on(consumer.events.CRASH, e => reject(e.payload.error))
          ;(async () => {
            await consumer.connect()
            await consumer.subscribe({ topics: [...state.keys()], fromBeginning: true })
            await consumer.run({
              autoCommit: false,
              eachMessage: async ({ topic, partition, message }) => {
                const s = state.get(topic)
                if (!s || partition !== 0) return
                const headers = Object.entries(message.headers || {}).flatMap(([key, v]) =>
                  (Array.isArray(v) ? v : [v]).map(value => ({ key, value: b64e(value) })))
                s.records.push({
                  offset: Number(message.offset),
                  timestamp: Number(message.timestamp),
                  key: b64e(message.key),
                  value: b64e(message.value),
                  headers
                })
                s.last = Number(message.offset)
                if (pending().length === 0) resolve()
              }
            })
            for (const s of state.values()) {
              if (s.job.from === 'timestamp') consumer.seek({ topic: s.job.topic, partition: 0, offset: String(s.start) })
            }
          })().catch(reject)
        }), req.job_timeout_ms, `read of ${[...state.keys()].join(', ')}`)
      } catch (e) {
        log(e.stack || e)
        failed = `the read of ${[...state.keys()].join(', ')} failed: ${e.message || e}`
        for (const s of pending()) {
          results[s.job.id].error = `read ${s.records.length} records, stopped before offset ${s.end - 1}: ${e.message || e}`
        }
      } finally {
        await consumer.disconnect().catch(() => {})
      }
    }
  } finally {
    await admin.disconnect().catch(() => {})
  }
  return { results }
}

async function main () {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  let resp
  switch (req.op) {
    case 'probe': resp = await probe(); break
    case 'produce': resp = await produce(req); break
    case 'consume': resp = await consume(req); break
    default: throw new Error(`unknown op ${req.op}`)
  }
  // Exit only once the response is flushed: stdout is a pipe, written
  // asynchronously.
  await new Promise((resolve, reject) => process.stdout.write(JSON.stringify(resp), e => (e ? reject(e) : resolve())))
}

main().then(() => process.exit(0), e => {
  log(e.stack || e)
  process.exit(1)
})
