//! What the chat commands do. A room lives on the ring at the key `("chat", room)`: its
//! members on the N room vnodes of that key, its history in the stream `chat/<room>` of the
//! database (so history survives restarts, and is readable over HTTP too).

use crate::vnode::{Member, RoomCommand, RoomReply, RoomVnode};
use ringcore::chat::protocol::{NAME_FIRST, not_understood, one_line, said};
use ringcore::chat::{ChatCommand, ChatHandler, Session};
use ringcore::coordinator::Answer;
use ringcore::http::Posted;
use ringcore::quorum::wait_for_quorum;
use ringcore::streams::{Nwr, Streams};
use ringcore::{Error, IndexNode, Node, NodeName, VnodeMaster, apl, chash_key};
use std::collections::BTreeSet;

/// The bucket of the rooms' history streams.
pub const HISTORY_BUCKET: &str = "chat";
/// Replicas of a room, and how many must answer.
const ROOMS: Nwr = Nwr { n: 3, w: 2, r: 2 };
/// Messages replayed to someone joining a room.
const HISTORY_ON_JOIN: usize = 10;

#[derive(Clone)]
pub struct Chat {
    rooms: VnodeMaster<RoomVnode>,
    history: Streams,
}

impl Chat {
    pub fn start(node: &Node, history: Streams) -> Self {
        Chat {
            rooms: node.register::<RoomVnode>("room_vnode"),
            history,
        }
    }

    /// The room's replicas: N vnodes, fallbacks for those that are down.
    fn replicas(&self, room: &str) -> Vec<IndexNode> {
        let hash = chash_key(HISTORY_BUCKET.as_bytes(), room.as_bytes());
        apl::targets(&self.rooms.apl(&hash, ROOMS.n))
    }

    /// Sends a command to the room's replicas — `notify` only to the first, so that members
    /// get each line once — and waits for `needed` of them.
    async fn tell_room(
        &self,
        room: &str,
        needed: usize,
        command: impl Fn(bool) -> RoomCommand,
    ) -> Result<Vec<Answer<RoomReply>>, Error> {
        let replicas = self.replicas(room);
        let replies = self.rooms.ask_each("room", &replicas, |i| command(i == 0));
        wait_for_quorum(replies, needed).await
    }

    /// Step 2: `join ROOM` — the members learn of it, the joiner gets the recent history.
    pub async fn join(&self, session: &mut Session, room: &str) -> Result<Vec<String>, Error> {
        let Some(me) = member(session) else {
            return Ok(vec![NAME_FIRST.to_string()]);
        };
        let recent = self
            .history
            .last(HISTORY_BUCKET, room, HISTORY_ON_JOIN, ROOMS)
            .await?;
        self.tell_room(room, ROOMS.w, |notify| RoomCommand::Join {
            room: room.to_string(),
            member: me.clone(),
            notify,
        })
        .await?;
        session.rooms.insert(room.to_string());
        let mut lines = vec![format!("joined {room}! 'say {room} <message>' to chat")];
        if !recent.entries.is_empty() {
            lines.push("the most recent messages are:".to_string());
            lines.extend(
                recent
                    .entries
                    .iter()
                    .map(|e| format!("{room} - {}", text(e))),
            );
        }
        Ok(lines)
    }

    /// Step 3: `say ROOM TEXT` — into the history, then to every member (the sender
    /// included: that is how the sender sees it went through).
    pub async fn say(
        &self,
        session: &mut Session,
        room: &str,
        text: &str,
    ) -> Result<Option<Vec<String>>, Error> {
        let Some(me) = member(session) else {
            return Ok(Some(vec![NAME_FIRST.to_string()]));
        };
        if !session.rooms.contains(room) {
            return Ok(Some(vec![format!(
                "you are not in {room}: 'join {room}' first"
            )]));
        }
        let line = format!("{}: {text}", me.name);
        let written = self
            .history
            .post(HISTORY_BUCKET, room, line.into_bytes(), ROOMS)
            .await?;
        let seq = written.entry.seq;
        self.tell_room(room, ROOMS.w, |notify| RoomCommand::Deliver {
            room: room.to_string(),
            line: said(room, &me.name, text),
            seq,
            notify,
        })
        .await?;
        Ok(None)
    }

    /// `leave ROOM`.
    pub async fn leave(&self, session: &mut Session, room: &str) -> Result<Vec<String>, Error> {
        let Some(me) = member(session) else {
            return Ok(vec![format!("you are not in {room}")]);
        };
        if !session.rooms.remove(room) {
            return Ok(vec![format!("you are not in {room}")]);
        }
        self.tell_room(room, ROOMS.w, |notify| RoomCommand::Leave {
            room: room.to_string(),
            member: me.clone(),
            notify,
        })
        .await?;
        Ok(vec![format!("left {room}")])
    }

    /// `show-unread ROOM`: the messages said since this name last saw the room.
    pub async fn show_unread(
        &self,
        session: &mut Session,
        room: &str,
    ) -> Result<Vec<String>, Error> {
        let Some(me) = member(session) else {
            return Ok(vec![NAME_FIRST.to_string()]);
        };
        let marks = self
            .tell_room(room, ROOMS.r, |_| RoomCommand::LastRead {
                room: room.to_string(),
                name: me.name.clone(),
            })
            .await?;
        let seen = marks
            .iter()
            .filter_map(|a| match a.reply {
                RoomReply::LastRead(seq) => Some(seq),
                RoomReply::Done | RoomReply::Forgot(_) => None,
            })
            .max()
            .unwrap_or(0);
        let missed = self
            .history
            .read(HISTORY_BUCKET, room, seen + 1, 100, ROOMS)
            .await?;
        let Some(last) = missed.entries.last() else {
            return Ok(vec!["no unread messages".to_string()]);
        };
        let seq = last.seq;
        self.tell_room(room, ROOMS.w, |_| RoomCommand::MarkRead {
            room: room.to_string(),
            name: me.name.clone(),
            seq,
        })
        .await?;
        let mut lines = vec!["You missed the following messages:".to_string()];
        lines.extend(missed.entries.iter().map(|e| format!("  {}", text(e))));
        Ok(lines)
    }
}

impl Chat {
    /// Going further: `node` is down, and so are the connections it held: every room forgets
    /// the members on it, and tells the others. Answers how many members were removed.
    /// (Called by `crate::departures` when this node sees a node go down.)
    pub async fn forget_node(&self, node: &NodeName) -> Result<usize, Error> {
        let wait = self.rooms.node().config().request_timeout;
        // Every room some vnode holds: replicas answer the same rooms, hence the set.
        let listing = self.rooms.coverage((), ROOMS.n, wait).await;
        if let Some(note) = listing.partial_note() {
            ringcore::tracing::warn!(%node, %note, "some rooms may keep members of a node that is down");
        }
        let rooms: BTreeSet<String> = listing
            .replies
            .into_iter()
            .flat_map(|(_, names)| names)
            .collect();
        let mut removed = 0;
        for room in rooms {
            let answers = self
                .tell_room(&room, ROOMS.w, |notify| RoomCommand::ForgetNode {
                    room: room.clone(),
                    node: node.clone(),
                    notify,
                })
                .await?;
            // Every replica removes the same members: count them once.
            removed += answers
                .iter()
                .map(|a| match a.reply {
                    RoomReply::Forgot(n) => n,
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
        }
        Ok(removed)
    }
}

impl Chat {
    /// HTTP and the chat meet: a line POSTed over HTTP to a room's stream (`POST
    /// /msgs/chat/ROOM`, or `/streams/chat/ROOM`), once stored, is delivered to the room's
    /// members as a line said in the chat is, under the poster's user name. The HTTP API runs
    /// this for every post to the `chat` bucket (see `app.rs`).
    pub async fn posted_over_http(&self, posted: Posted) {
        let room = posted.stream;
        let line = said(&room, &posted.by, &one_line(&posted.text));
        let told = self
            .tell_room(&room, ROOMS.w, |notify| RoomCommand::Deliver {
                room: room.clone(),
                line: line.clone(),
                seq: posted.seq,
                notify,
            })
            .await;
        if let Err(error) = told {
            ringcore::tracing::warn!(%room, %error, "a line posted over HTTP was stored, but not delivered to the room's members");
        }
    }
}

/// The member a session is, once it has a name.
fn member(session: &Session) -> Option<Member> {
    Some(Member {
        node: session.node.clone(),
        conn: session.conn,
        name: session.name.clone()?,
    })
}

/// A history entry's text: `Alex: HI!` (as one line: an entry POSTed over HTTP may be JSON
/// on several).
fn text(entry: &ringcore::store::Entry) -> String {
    one_line(&String::from_utf8_lossy(&entry.payload))
}

impl ChatHandler for Chat {
    async fn handle(&self, session: &mut Session, command: ChatCommand) -> Option<Vec<String>> {
        let result = match command {
            ChatCommand::SetName(name) => {
                session.name = Some(name.clone());
                Ok(Some(vec![format!("ok your name is {name}")]))
            }
            ChatCommand::Join(room) => self.join(session, &room).await.map(Some),
            ChatCommand::Say { room, text } => self.say(session, &room, &text).await,
            ChatCommand::Leave(room) => self.leave(session, &room).await.map(Some),
            ChatCommand::ShowUnread(room) => self.show_unread(session, &room).await.map(Some),
            ChatCommand::Empty => Ok(Some(Vec::new())),
            ChatCommand::Unknown(line) => Ok(Some(vec![not_understood(&line)])),
        };
        result.unwrap_or_else(|error| Some(vec![format!("sorry, that did not work: {error}")]))
    }

    async fn disconnected(&self, mut session: Session) {
        let rooms: Vec<String> = session.rooms.iter().cloned().collect();
        for room in rooms {
            if let Err(error) = self.leave(&mut session, &room).await {
                ringcore::tracing::warn!(%room, %error, "could not tell the room a member left");
            }
        }
    }
}
