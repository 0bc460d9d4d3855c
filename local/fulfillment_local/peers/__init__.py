"""Simulated peers of the fulfillment backend, for the demo and the end-to-end tests.

Each peer talks to the stack only through its public contracts (ARCHITECTURE.md §3) - signed HTTP
webhooks, the admin API, its own SQS queue and the shared inbound queue - never through the table:

    storefront.Storefront     Shopify, WooCommerce and native checkouts (signed webhooks, follow-ups)
    operator.Operator         the shop's operators: catalog, stock, restocks, holds, cancellations
    tpl.ThirdPartyLogistics   a 3PL polling its own request queue and answering on the inbound queue
    warehouse.InHouseWarehouse the in-house warehouse: pick list and "ship" over the admin API
    carrier.Carrier           EasyPost / AfterShip tracking webhooks for the parcels that shipped
    events.EventCollector     the email service's side of the customer-notifications queue
"""
