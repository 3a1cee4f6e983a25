# Source of notebooks/glossary.ipynb - build with: python tools/nbbuild.py notebooks/src/glossary.py
# %% [markdown]
# # Glossary: the words this workbook uses
#
# *Every notebook links here from its first lines. Each term says what it means in ZeroMQ and in this
# workbook, and names the notebook where you see it happen. The guide is at
# [zguide.zeromq.org](https://zguide.zeromq.org/); the protocols (the "RFCs") are at
# [rfc.zeromq.org](https://rfc.zeromq.org/).*
#
# [Bind and connect](#Bind-and-connect) ·
# [Broker](#Broker) ·
# [Context](#Context) ·
# [CURVE](#CURVE) ·
# [Delimiter](#Delimiter) ·
# [EFSM](#EFSM) ·
# [Envelope](#Envelope) ·
# [Ephemeral value](#Ephemeral-value) ·
# [Event loop](#Event-loop) ·
# [Failover](#Failover) ·
# [Fair-queueing](#Fair-queueing) ·
# [Frame](#Frame) ·
# [Half-open connection](#Half-open-connection) ·
# [Heartbeat](#Heartbeat) ·
# [HWM](#HWM) ·
# [Identity](#Identity) ·
# [Language binding](#Language-binding) ·
# [Linger](#Linger) ·
# [Liveness](#Liveness) ·
# [LRU](#LRU) ·
# [MMI](#MMI) ·
# [Namespace host](#Namespace-host) ·
# [Partition](#Partition) ·
# [Peering](#Peering) ·
# [Proxy](#Proxy) ·
# [RFCs](#RFCs) ·
# [Round-robin](#Round-robin) ·
# [Sequence number](#Sequence-number) ·
# [Service](#Service) ·
# [Slow joiner](#Slow-joiner) ·
# [Snapshot](#Snapshot) ·
# [Socket types](#Socket-types) ·
# [Split brain](#Split-brain) ·
# [Ticket](#Ticket) ·
# [Transports](#Transports) ·
# [ZAP](#ZAP) ·
# [ZMTP](#ZMTP)

# %% [markdown]
# ### Bind and connect
#
# The two ways a socket takes part in a connection. The side that **binds** owns a fixed address (a
# port, a path) and waits; the side that **connects** names that address and keeps trying until it
# is there, reconnecting by itself after a loss. Either side may bind, whatever the pattern: bind the
# stable one (a broker, a server), connect the ones that come and go. In this workbook's diagrams,
# arrows go from the connecting socket to the binding one. *See 00.*
#
# ### Broker
#
# A program in the middle that receives messages and decides where each goes: the load-balancing broker
# (05), the Simple and Paranoid Pirate queues (10, 11), Majordomo (12). ZeroMQ has no broker of its own;
# you build one when you need one, usually from ROUTER sockets.
#
# ### Context
#
# The container of a process's sockets, and of the I/O threads that move their bytes. One per process;
# every socket is made from it. `inproc://` sockets can only reach sockets of the same context. *See 00.*
#
# ### CURVE
#
# ZeroMQ's encryption and authentication, built on elliptic-curve keys (Curve25519): a server has a
# key pair, and a client must know the server's public key to connect. Specified as the
# [25/ZMTP-CURVE](https://rfc.zeromq.org/spec/25/) mechanism, on the
# [26/CURVEZMQ](https://rfc.zeromq.org/spec/26/) handshake. *See 18.*
#
# ### Delimiter
#
# An empty frame that separates the [envelope](#Envelope) (the addresses) from the body of a message.
# A REQ socket adds it when it sends and removes it when it receives; a DEALER that talks to a REP, or
# a broker that talks 7/MDP, must add it by hand. *See 04.*
#
# ### EFSM
#
# The error a REQ or REP socket raises when you call it out of turn: "operation cannot be accomplished in
# current state". REQ must alternate send, receive, send...; a REQ that sent and got no reply is stuck,
# and the Lazy Pirate closes it and opens a new one. *See 01 and 09.*
#
# ### Envelope
#
# The address frames in front of a message's body, which let a reply find its way back through ROUTER
# sockets. Each ROUTER a request passes adds the [identity](#Identity) of the peer it came from; on the
# way back, each ROUTER takes one off and sends the rest to that peer. *See 04.*
#
# ### Ephemeral value
#
# A value that lives only for a while: the update that sets it says for how long (Clone's `ttl`
# property, in seconds), and the server deletes it when that time is up unless a newer update renews
# it. A service that announces itself this way disappears from every copy soon after it dies, with
# nobody left to delete it. *See 25.*
#
# ### Event loop
#
# The scheduler at the heart of asyncio: one thread runs many coroutines (`async def` functions),
# switching to another whenever one `await`s something that is not ready yet. A call that blocks
# instead (`time.sleep`, a plain socket's `recv`) stops every coroutine on that loop. `zmq.asyncio`
# gives sockets whose `send`, `recv` and `poll` are awaited. *See 24.*
#
# ### Failover
#
# Moving to a backup when the server in use stops answering: a client that switches servers (Lazy
# Pirate's retry elsewhere, Clone's clients after `server_ttl` seconds of silence), and a backup that
# takes over the work (Binary Star's passive server, once its peer is silent and a client asks).
# *See 14, 15 and 25.*
#
# ### Fair-queueing
#
# How a socket with several peers reads from them: one message from each peer that has one, in turn, so
# no sender can starve the others. PULL, SUB, ROUTER and DEALER fair-queue what they receive. *See 02
# (two publishers) and 03.*
#
# ### Frame
#
# One part of a message: a block of bytes with a length. A message is one or more frames, sent and
# received whole (a "multipart message"); ZeroMQ never looks inside a frame. *See 00 and 04.*
#
# ### Half-open connection
#
# A TCP connection that one side believes is open while the other side is gone, or while the path
# between them silently drops every packet. Nothing fails: sends queue up and receives wait forever.
# Only a [heartbeat](#Heartbeat) or TCP keepalive notices. *See 19.*
#
# ### Heartbeat
#
# A small message sent at a fixed interval only to say "I am alive". A peer that hears nothing for a
# few intervals (see [liveness](#Liveness)) treats the other side as dead. It can live in the
# application (Paranoid Pirate, Majordomo) or in libzmq itself (`ZMQ_HEARTBEAT_IVL`, from libzmq 4.2).
# *See 11, 12 and 19.*
#
# ### HWM
#
# The high-water mark: how many messages a socket will queue for one peer (`SNDHWM`, `RCVHWM`; 1000 by
# default). At the mark, a PUB drops further messages for that subscriber, and PUSH, DEALER and REQ block
# (or fail with `EAGAIN` when not blocking). *See 08.*
#
# ### Identity
#
# The name a ROUTER socket gives each connected peer (libzmq calls it the *routing id*). The ROUTER puts
# it in front of every message from that peer, and reads it from the first frame of every message it
# sends, to know where to send it. A peer may choose its own identity; otherwise the ROUTER makes one
# up. *See 04.*
#
# ### Language binding
#
# A library that lets a language call **libzmq**, the one ZeroMQ library written in C++ with a C
# interface: pyzmq for Python, zeromq.js for Node.js, and some thirty more. A C program needs no binding.
# Every binding speaks the same wire protocol ([ZMTP](#ZMTP)), so their sockets talk to each other.
# *See 21.*
#
# ### Linger
#
# How long closing a socket (or terminating its context) waits for messages still queued to go out.
# libzmq's default (-1) waits forever; the workbook's sockets use 0 (drop them), so that stopping never hangs.
# *See 00.*
#
# ### Liveness
#
# How many [heartbeats](#Heartbeat) in a row a peer may miss before it is declared dead. With an
# interval of 1 s and a liveness of 3, a silent peer is dead after about 3 s. *See 11.*
#
# ### LRU
#
# "Least recently used": a broker hands each request to the worker that has been ready the longest,
# which it knows because each worker says "ready" when it is free. It sends work only to idle workers,
# where [round-robin](#Round-robin) would send it to busy ones too. *See 05.*
#
# ### MMI
#
# The Majordomo Management Interface ([8/MMI](https://rfc.zeromq.org/spec/8/)): requests for services
# whose names begin with `mmi.`, answered by the broker itself. `mmi.service` says `200` if a worker
# offers the service, `404` if none does. *See 12 and 21.*
#
# ### Namespace host
#
# In notebooks 19 and 20, a "host" is a Linux network namespace: its own interfaces, addresses and
# firewall, on one machine. Links between hosts can be cut, made lossy or slowed down for real, with
# iptables and tc. *See 19.*
#
# ### Partition
#
# A network fault that splits the hosts into groups that cannot reach each other, while each group
# still works. Each side may conclude that the other has died. *See 14 and 19.*
#
# ### Peering
#
# Brokers of different clusters joined as equals, so that a cluster with more requests than workers can
# borrow idle workers of another. Each broker publishes how many of its workers are free (the state
# flow) and sends a request it cannot serve at home to a peer that said it has room (the cloud flow,
# ROUTER to ROUTER, each broker's name as its identity). Unlike *federation*, where a broker just acts
# as a client or a worker of another, every decision to lend is made on the peers' numbers. *See 26.*
#
# ### Proxy
#
# A small program that moves messages between a frontend socket and a backend socket, unchanged, in
# both directions (`zmq.proxy`). A ROUTER-DEALER proxy lets many clients reach many servers through one
# address. An XSUB-XPUB proxy does the same for publishers and subscribers, and carries the
# subscriptions upstream. *See 04, where `examples/asyncsrv.py` uses one, and 23.*
#
# ### RFCs
#
# The ZeroMQ protocols written down at [rfc.zeromq.org](https://rfc.zeromq.org/), so that programs in
# any language can take part. This workbook uses
# [6/PPP](https://rfc.zeromq.org/spec/6/) (Paranoid Pirate, 11),
# [7/MDP](https://rfc.zeromq.org/spec/7/) (Majordomo, 12 and 21),
# [8/MMI](https://rfc.zeromq.org/spec/8/) (12),
# [9/TSP](https://rfc.zeromq.org/spec/9/) (Titanic, 13),
# [10/FLP](https://rfc.zeromq.org/spec/10/) (Freelance, 15),
# [12/CHP](https://rfc.zeromq.org/spec/12/) (Clone, 06 and 07),
# [23/ZMTP](https://rfc.zeromq.org/spec/23/) (the wire),
# [25/ZMTP-CURVE](https://rfc.zeromq.org/spec/25/), [26/CURVEZMQ](https://rfc.zeromq.org/spec/26/) and
# [27/ZAP](https://rfc.zeromq.org/spec/27/) (18).
#
# ### Round-robin
#
# Sending each message to the next peer in turn, whatever it is doing. PUSH and DEALER do it; so a slow
# worker gets as many tasks as a fast one. *See 03 and 05.*
#
# ### Sequence number
#
# A number that goes up by one with each message a sender publishes, so a receiver can see a gap (a
# lost message) or skip what it already has from a [snapshot](#Snapshot). *See 06, 07 and 08.*
#
# ### Service
#
# In Majordomo, a name that workers offer and clients ask for (`echo`, `upper`); the broker routes by
# it. *See 12.*
#
# ### Slow joiner
#
# A subscriber that connects while the publisher is already sending misses what was sent before its
# connection (and its subscription) was in place, even when both start "at the same time". *See 02.*
#
# ### Snapshot
#
# The whole current state, sent to a client that joins late, so that it need not have seen every
# update since the start. The Clone pattern pairs it with a stream of numbered updates. *See 06.*
#
# ### Socket types
#
# The role a socket plays in a pattern, which fixes how it routes: REQ/REP (request-reply in lockstep),
# DEALER/ROUTER (the asynchronous versions, with [identities](#Identity)), PUB/SUB and XPUB/XSUB
# (publish-subscribe), PUSH/PULL (pipeline), PAIR (one to one). *See 00 to 05.*
#
# ### Split brain
#
# Two servers of a pair that both believe they are the active one, usually after a
# [partition](#Partition) between them; clients on each side are served by a different master.
# Binary Star's rule makes it rare but cannot rule it out. *See 14 and 19.*
#
# ### Ticket
#
# Titanic's receipt for a request: a unique id (a UUID) the client gets at once, and later uses to ask
# for the reply, even after the broker or the client has restarted. *See 13.*
#
# ### Transports
#
# How bytes travel between sockets: `inproc://` between threads of one process, `ipc://` between
# processes on one machine (a Unix socket), `tcp://` between machines. The pattern code does not
# change; only the endpoint does. *See 00 and 16.*
#
# ### ZAP
#
# The ZeroMQ Authentication Protocol ([27/ZAP](https://rfc.zeromq.org/spec/27/)): the handler that
# libzmq asks, for each new connection, whether to let it in (by address, by password, or by CURVE
# key). *See 18.*
#
# ### ZMTP
#
# The ZeroMQ Message Transport Protocol ([23/ZMTP](https://rfc.zeromq.org/spec/23/)): how two sockets
# greet each other, agree on a security mechanism, and put frames on a TCP connection. *See 18 and 21.*
