//! Object ids with Stripe's prefixes and lengths (`cus_` + 14, `price_` + 24, ...).

/// Id kinds the stand-in mints, each with Stripe's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `cus_`
    Customer,
    /// `prod_`
    Product,
    /// `price_`
    Price,
    /// `mtr_test_`
    Meter,
    /// `sub_`
    Subscription,
    /// `si_`
    SubscriptionItem,
    /// `we_`
    WebhookEndpoint,
    /// `whsec_`
    WebhookSecret,
    /// `evt_`
    Event,
    /// `req_`
    Request,
    /// `clock_`
    TestClock,
    /// `in_`
    Invoice,
    /// `il_`
    InvoiceLine,
    /// `pm_`
    PaymentMethod,
    /// `cs_test_`
    CheckoutSession,
    /// `bpc_`
    PortalConfiguration,
    /// `bps_`
    PortalSession,
}

impl Kind {
    fn prefix_and_len(self) -> (&'static str, usize) {
        match self {
            Kind::Customer => ("cus_", 14),
            Kind::Product => ("prod_", 14),
            Kind::Price => ("price_", 24),
            Kind::Meter => ("mtr_test_", 32),
            Kind::Subscription => ("sub_", 24),
            Kind::SubscriptionItem => ("si_", 14),
            Kind::WebhookEndpoint => ("we_", 24),
            Kind::WebhookSecret => ("whsec_", 32),
            Kind::Event => ("evt_", 24),
            Kind::Request => ("req_", 14),
            Kind::TestClock => ("clock_", 24),
            Kind::Invoice => ("in_", 24),
            Kind::InvoiceLine => ("il_", 24),
            Kind::PaymentMethod => ("pm_", 24),
            Kind::CheckoutSession => ("cs_test_", 58),
            Kind::PortalConfiguration => ("bpc_", 24),
            Kind::PortalSession => ("bps_", 24),
        }
    }
}

/// A fresh random id of this kind.
pub fn new_id(kind: Kind) -> String {
    let (prefix, len) = kind.prefix_and_len();
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(len));
    id
}

/// A UUID-shaped random identifier, as Stripe generates for meter events sent without one.
pub fn new_uuid() -> String {
    let hex: String =
        std::iter::repeat_with(|| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .take(32)
            .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Eight upper-case hex characters, like a customer's `invoice_prefix`.
pub fn invoice_prefix() -> String {
    std::iter::repeat_with(|| {
        char::from_digit(fastrand::u32(0..16), 16)
            .unwrap_or('0')
            .to_ascii_uppercase()
    })
    .take(8)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_stripes_prefix_and_length() {
        let id = new_id(Kind::Customer);
        assert!(id.starts_with("cus_"));
        assert_eq!(id.len(), 18);
        assert!(id[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(new_id(Kind::Price), new_id(Kind::Price));
    }

    #[test]
    fn generated_identifiers_look_like_uuids() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
