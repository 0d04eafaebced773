/**
 * The one reason a layer 2 codec gives for rejecting bytes: which protocol, which field, why. Decoders return it in a
 * `Result` instead of throwing, so the packet path drops and counts bad frames without try/catch.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A frame a codec could not decode: which protocol, which field, and why. Such frames are dropped and counted. */
export class MalformedFrame extends Schema.TaggedError<MalformedFrame>()("MalformedFrame", {
  protocol: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `malformed ${this.protocol} frame: ${this.field}: ${this.reason}`
  }
}

/** Shorthand used by every decoder in this folder. */
export const malformed = (protocol: string, field: string, reason: string): MalformedFrame =>
  new MalformedFrame({ protocol, field, reason })
