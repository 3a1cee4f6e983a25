// mdclient.mjs: a Majordomo client (7/MDP) in JavaScript, on the zeromq npm package (v6).
//
// It sends `requests` requests to one service of a Majordomo broker (ours is `python -m zguide_py
// run majordomo.broker`), one at a time, and checks each reply byte for byte. Lazy Pirate: when no
// reply comes within `timeout` seconds it closes the REQ socket, opens a new one and sends the
// same request again, up to `retries` times, then gives that request up.
//
//     node peers/js/mdclient.mjs tcp://127.0.0.1:5555 echo requests=20 timeout=2.5 retries=3
//     node peers/js/mdclient.mjs tcp://127.0.0.1:5555 mmi=echo,nothing     (8/MMI: is it there?)
//
// It prints one line per event on stdout ("reply n=3 tries=1", "retry n=3 try=2", "failed n=3",
// "mmi service=echo answer=200", at the end "done replies=20 failed=0 mismatched=0") and exits
// with status 0 when every request was answered correctly, 1 when one was not. requests=0 runs
// until SIGINT or SIGTERM, which stop it cleanly.
import { Request } from "zeromq"

const MDPC = Buffer.from("MDPC01")
const WORK = {                                // what the workers do with a body, to check replies
  echo: (body) => body,
  upper: (body) => Buffer.from(body.toString("latin1").replace(/[a-z]+/g, (s) => s.toUpperCase()), "latin1"),
  reverse: (body) => Buffer.from(body).reverse(),
}

function usage(why) {
  if (why) console.error(`mdclient: ${why}`)
  console.error("usage: node mdclient.mjs ENDPOINT [SERVICE] [requests=N] [timeout=SECONDS] " +
                "[retries=N] [interval=SECONDS] [name=NAME] [mmi=SERVICE,...]")
  process.exit(2)
}

function parseArgs(argv) {
  if (argv.length < 1 || argv[0].startsWith("-")) usage()
  const args = { endpoint: argv[0], service: "echo", requests: 10, timeout: 2.5, retries: 3,
                 interval: 0, name: "jsclient", mmi: null }
  for (const arg of argv.slice(1)) {
    const [key, value] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
                                           : ["service", arg]
    if (!(key in args) || key === "endpoint") usage(`unknown parameter ${arg}`)
    if (["requests", "retries"].includes(key)) {
      if (!/^[0-9]+$/.test(value)) usage(`${arg} is not a whole number`)
      args[key] = Number(value)
    } else if (["timeout", "interval"].includes(key)) {
      if (!/^[0-9]*\.?[0-9]+$/.test(value) || Number(value) > 3600) usage(`${arg} is not a number of seconds`)
      args[key] = Number(value)
    } else {
      args[key] = key === "mmi" ? value.split(",").filter(Boolean) : value
    }
  }
  if (!args.mmi && !(args.service in WORK)) usage(`unknown service ${args.service} (echo, upper or reverse)`)
  if (args.timeout <= 0 || args.retries < 1) usage("timeout must be above 0 and retries at least 1")
  return args
}

const args = parseArgs(process.argv.slice(2))
let stopping = false
let socket = null
let connections = 0

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    stopping = true
    if (socket && !socket.closed) socket.close()    // a pending receive() ends at once
  })
}

function connect() {
  connections += 1
  socket = new Request({
    linger: 0,
    receiveTimeout: args.timeout * 1000,      // receive() throws EAGAIN after that long
    routingId: `${args.name}.${process.pid}.${connections}`,
  })
  socket.connect(args.endpoint)
}

// One request, Lazy Pirate style: the reply's body frames, or null after `retries` silent tries.
async function request(service, body, n) {
  for (let attempt = 1; attempt <= args.retries && !stopping; attempt++) {
    if (attempt > 1) console.log(`retry n=${n} try=${attempt}`)
    if (!socket) connect()
    try {
      await socket.send([MDPC, service, ...body])
      const [header, replyService, ...reply] = await socket.receive()
      if (header.equals(MDPC) && replyService.equals(service) && reply.length > 0) return { reply, tries: attempt }
      console.log(`malformed n=${n}`)       // not an MDP reply for this service: retried like a timeout
    } catch (error) {
      if (stopping) break
      if (error.code !== "EAGAIN") throw error
    }
    socket.close()                            // a REQ that got no reply cannot send again: a new one
    socket = null
  }
  return { reply: null, tries: args.retries }
}

async function main() {
  const service = Buffer.from(args.mmi ? "mmi.service" : args.service)
  if (args.mmi) {                             // 8/MMI: the broker answers 200 (there) or 404 (not)
    let answered = 0
    for (const name of args.mmi) {
      const { reply } = await request(service, [Buffer.from(name)], name)
      console.log(`mmi service=${name} answer=${reply ? reply[0].toString() : "none"}`)
      if (reply) answered += 1
    }
    return answered === args.mmi.length ? 0 : 1
  }
  let replies = 0, failed = 0, mismatched = 0
  for (let n = 0; (args.requests === 0 || n < args.requests) && !stopping; n++) {
    const body = Buffer.from(`${args.service} ${n}`)
    const { reply, tries } = await request(service, [body], n)
    if (stopping) break
    if (reply === null) {
      failed += 1
      console.log(`failed n=${n}`)
    } else if (reply.length !== 1 || !reply[0].equals(WORK[args.service](body))) {
      mismatched += 1                         // never accept another request's reply
      console.log(`mismatched n=${n} reply=${JSON.stringify(reply.map(String))}`)
    } else {
      replies += 1
      console.log(`reply n=${n} tries=${tries}`)
    }
    if (args.interval) await new Promise((resolve) => setTimeout(resolve, args.interval * 1000))
  }
  console.log(`done replies=${replies} failed=${failed} mismatched=${mismatched}`)
  return failed === 0 && mismatched === 0 ? 0 : 1
}

main().then(
  (status) => {
    if (socket && !socket.closed) socket.close()
    process.exitCode = status
  },
  (error) => {
    console.error(`mdclient: ${error.message}`)
    process.exitCode = 1
  },
)
