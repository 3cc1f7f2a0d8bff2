//! The room vnode: the members of the rooms that hash to its partition, and who has read
//! which message. It sends lines to members through the mailbox of the node holding each
//! member's connection.
//!
//! Every command goes to the N replicas of a room; only the first of them (`notify: true`)
//! sends lines, so that each member receives each line once.

use ringcore::Mailer;
use ringcore::chat::{Delivery, MAILBOX};
use ringcore::{NodeName, Vnode, VnodeContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// A member of a room: a connection on a node, under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub node: NodeName,
    pub conn: u64,
    pub name: String,
}

impl Member {
    fn address(&self) -> (NodeName, u64) {
        (self.node.clone(), self.conn)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RoomCommand {
    /// Step 2: `member` joins `room`; the others are told.
    Join {
        room: String,
        member: Member,
        notify: bool,
    },
    /// Step 3: `line` (history entry `seq`) goes to every member.
    Deliver {
        room: String,
        line: String,
        seq: u64,
        notify: bool,
    },
    /// `member` leaves `room`; the others are told.
    Leave {
        room: String,
        member: Member,
        notify: bool,
    },
    /// The sequence number of the last message `name` saw in `room`.
    LastRead { room: String, name: String },
    /// `name` has now seen the messages of `room` up to `seq`.
    MarkRead {
        room: String,
        name: String,
        seq: u64,
    },
    /// Going further: `node` is down: its members leave `room`; the others are told.
    ForgetNode {
        room: String,
        node: NodeName,
        notify: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomReply {
    Done,
    LastRead(u64),
    /// Going further: how many members `ForgetNode` removed.
    Forgot(usize),
}

/// One room as one replica keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Room {
    pub members: BTreeMap<(NodeName, u64), String>,
    pub last_read: BTreeMap<String, u64>,
}

/// A room handed off: its members and read marks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomItem {
    pub name: String,
    pub room: Room,
}

pub struct RoomVnode {
    rooms: BTreeMap<String, Room>,
    mailer: Mailer,
}

impl RoomVnode {
    /// Sends `line` to every member of `room` (but `except`).
    fn tell(&self, room: &str, line: &str, except: Option<(NodeName, u64)>) {
        let Some(members) = self.rooms.get(room) else {
            return;
        };
        for (node, conn) in members.members.keys() {
            if except.as_ref() != Some(&(node.clone(), *conn)) {
                let delivery = Delivery {
                    conn: *conn,
                    line: line.to_string(),
                };
                self.mailer.send(node, MAILBOX, delivery.encode());
            }
        }
    }
}

impl Vnode for RoomVnode {
    type Command = RoomCommand;
    type Reply = RoomReply;
    type CoverageRequest = ();
    type CoverageReply = Vec<String>;
    type HandoffItem = RoomItem;

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(RoomVnode {
            rooms: BTreeMap::new(),
            mailer: ctx.mailer,
        })
    }

    fn handle_command(&mut self, command: RoomCommand) -> RoomReply {
        match command {
            RoomCommand::Join {
                room,
                member,
                notify,
            } => {
                // Step 2: record the member, and tell the others.
                let entry = self.rooms.entry(room.clone()).or_default();
                entry.members.insert(member.address(), member.name.clone());
                if notify {
                    let notice = format!("* {} has joined {room}", member.name);
                    self.tell(&room, &notice, Some(member.address()));
                }
                RoomReply::Done
            }
            RoomCommand::Deliver {
                room,
                line,
                seq,
                notify,
            } => {
                // Step 3: every member sees the line (so has read it).
                if notify {
                    self.tell(&room, &line, None);
                }
                if let Some(entry) = self.rooms.get_mut(&room) {
                    for name in entry.members.values() {
                        let read = entry.last_read.entry(name.clone()).or_default();
                        *read = (*read).max(seq);
                    }
                }
                RoomReply::Done
            }
            RoomCommand::Leave {
                room,
                member,
                notify,
            } => {
                let was_in = self
                    .rooms
                    .get_mut(&room)
                    .is_some_and(|entry| entry.members.remove(&member.address()).is_some());
                if notify && was_in {
                    self.tell(&room, &format!("* {} has left {room}", member.name), None);
                }
                RoomReply::Done
            }
            RoomCommand::LastRead { room, name } => {
                let seq = self
                    .rooms
                    .get(&room)
                    .and_then(|r| r.last_read.get(&name))
                    .copied();
                RoomReply::LastRead(seq.unwrap_or(0))
            }
            RoomCommand::ForgetNode { room, node, notify } => {
                // Going further: the members whose connection was on `node` leave.
                let Some(entry) = self.rooms.get_mut(&room) else {
                    return RoomReply::Forgot(0);
                };
                let gone: Vec<String> = entry
                    .members
                    .iter()
                    .filter(|((on, _), _)| *on == node)
                    .map(|(_, name)| name.clone())
                    .collect();
                entry.members.retain(|(on, _), _| *on != node);
                if notify {
                    for name in &gone {
                        let notice = format!("* {name} has left {room}: {node} is down");
                        self.tell(&room, &notice, None);
                    }
                }
                RoomReply::Forgot(gone.len())
            }
            RoomCommand::MarkRead { room, name, seq } => {
                let read = self
                    .rooms
                    .entry(room)
                    .or_default()
                    .last_read
                    .entry(name)
                    .or_default();
                *read = (*read).max(seq);
                RoomReply::Done
            }
        }
    }

    fn handle_handoff_command(&mut self, command: RoomCommand) -> (RoomReply, Vec<RoomItem>) {
        let room = match &command {
            RoomCommand::Join { room, .. }
            | RoomCommand::Deliver { room, .. }
            | RoomCommand::Leave { room, .. }
            | RoomCommand::MarkRead { room, .. }
            | RoomCommand::ForgetNode { room, .. } => Some(room.clone()),
            RoomCommand::LastRead { .. } => None,
        };
        let reply = self.handle_command(command);
        let changed = room
            .and_then(|name| {
                self.rooms.get(&name).map(|room| RoomItem {
                    name,
                    room: room.clone(),
                })
            })
            .into_iter()
            .collect();
        (reply, changed)
    }

    fn handle_coverage(&mut self, _: ()) -> Vec<String> {
        self.rooms.keys().cloned().collect()
    }

    fn fold(&mut self, visit: &mut dyn FnMut(RoomItem) -> ControlFlow<()>) {
        for (name, room) in &self.rooms {
            if visit(RoomItem {
                name: name.clone(),
                room: room.clone(),
            })
            .is_break()
            {
                return;
            }
        }
    }

    fn encode_handoff_item(item: &RoomItem) -> Vec<u8> {
        postcard::to_allocvec(item).expect("a room always encodes")
    }

    fn handle_handoff_data(&mut self, data: &[u8]) -> Result<(), String> {
        let item: RoomItem = postcard::from_bytes(data).map_err(|e| format!("bad room: {e}"))?;
        // Merging makes a repeated item harmless.
        let room = self.rooms.entry(item.name).or_default();
        room.members.extend(item.room.members);
        for (name, seq) in item.room.last_read {
            let read = room.last_read.entry(name).or_default();
            *read = (*read).max(seq);
        }
        Ok(())
    }

    fn is_empty(&mut self) -> bool {
        self.rooms.is_empty()
    }

    fn delete(&mut self) {
        self.rooms.clear();
    }
}
