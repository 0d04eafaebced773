/**
 * Community (metallb.io/v1beta1): named aliases for BGP community values, usable in BGPAdvertisements.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { resource, v1beta1Crd } from "./Common.ts"

export const CommunityAlias = Schema.Struct({
  name: Schema.optionalKey(Schema.String.annotate({ description: "The name of the alias for the community." })),
  value: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "The BGP community value corresponding to the given name. Can be a standard community of the form 1234:1234 or a large community of the form large:1234:1234:1234."
    })
  )
})
export type CommunityAlias = typeof CommunityAlias.Type

export const CommunitySpec = Schema.Struct({
  communities: Schema.optionalKey(Schema.Array(CommunityAlias))
}).annotate({ description: "CommunitySpec defines the desired state of Community." })

export const CommunityStatus = Schema.Struct({}).annotate({
  description: "CommunityStatus defines the observed state of Community."
})

export const Community = resource({
  version: "v1beta1",
  kind: "Community",
  description: "Community is a collection of aliases for communities. Users can define named aliases to be used in the BGPAdvertisement.",
  spec: CommunitySpec,
  status: CommunityStatus
})
export type Community = typeof Community.Type

export const crd = v1beta1Crd({ kind: "Community", plural: "communities", schema: Community, printerColumns: [] })
