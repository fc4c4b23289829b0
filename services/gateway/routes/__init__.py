"""The gateway's routes, one mixin per area; ``GatewayService`` inherits them all."""
