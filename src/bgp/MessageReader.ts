/**
 * Splits a TCP byte stream into whole BGP messages. TCP delivers arbitrary chunks: a message may span several,
 * and one chunk may hold many. The reader checks each header (marker, length) as soon as it is complete, so a
 * desynchronised stream is caught before its bogus length is waited for.
 *
 * @since 0.1.0
 */
import { decodeHeader } from "./Codec.ts"
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from "./Message.ts"
import type { BgpDecodeError } from "./Notification.ts"

export type Frame =
  | { readonly _tag: "Frame"; readonly bytes: Uint8Array }
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "FrameError"; readonly error: BgpDecodeError }

const needMore: Frame = { _tag: "NeedMore" }

/** Reassembles BGP messages from TCP chunks: `push` bytes, then call `next()` until it says `NeedMore`. */
export class MessageReader {
  private buffer: Uint8Array = new Uint8Array(MAX_MESSAGE_LENGTH)
  private start = 0
  private end = 0
  private maxLength = MAX_MESSAGE_LENGTH
  private failure: BgpDecodeError | undefined = undefined

  /**
   * Allows messages up to 65535 octets (RFC 8654) once both OPENs carried the Extended Message capability.
   * Takes effect for the next frame, so call it right after handling the OPEN that settled it.
   */
  setExtendedMessages(enabled: boolean): void {
    this.maxLength = enabled ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH
  }

  /** Octets received but not yet returned as a frame. */
  get buffered(): number {
    return this.end - this.start
  }

  /** Appends a chunk as received from the socket. */
  push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buffer.length) {
      const pending = this.end - this.start
      const needed = pending + chunk.length
      if (needed <= this.buffer.length) {
        this.buffer.copyWithin(0, this.start, this.end)
      } else {
        let size = this.buffer.length
        while (size < needed) size *= 2
        const next = new Uint8Array(size)
        next.set(this.buffer.subarray(this.start, this.end))
        this.buffer = next
      }
      this.start = 0
      this.end = pending
    }
    this.buffer.set(chunk, this.end)
    this.end += chunk.length
  }

  /**
   * The next whole message (a copy, safe to keep), `NeedMore` until one is complete, or the header error to send.
   * After an error the stream cannot be resynchronised, so the same error is returned from then on.
   */
  next(): Frame {
    if (this.failure !== undefined) return { _tag: "FrameError", error: this.failure }
    if (this.end - this.start < HEADER_LENGTH) return needMore
    const header = decodeHeader(this.buffer, this.start, this.maxLength)
    if (!("type" in header)) {
      this.failure = header
      return { _tag: "FrameError", error: header }
    }
    if (this.end - this.start < header.length) return needMore
    const bytes = this.buffer.slice(this.start, this.start + header.length)
    this.start += header.length
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
    }
    return { _tag: "Frame", bytes }
  }

  /** Pushes a chunk and returns every frame now complete, stopping at the first error. */
  feed(chunk: Uint8Array): { readonly frames: Array<Uint8Array>; readonly error?: BgpDecodeError } {
    this.push(chunk)
    const frames: Array<Uint8Array> = []
    for (;;) {
      const frame = this.next()
      if (frame._tag === "Frame") frames.push(frame.bytes)
      else if (frame._tag === "NeedMore") return { frames }
      else return { frames, error: frame.error }
    }
  }
}
