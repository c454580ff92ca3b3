//! Order lifecycle: statuses, which changes are allowed, payment methods, return reasons.
//!
//! Why a state machine: merchants read "delivered" as "money is in" for cash-on-delivery
//! orders and "paid" for prepaid ones; analytics counts revenue from these states, so an
//! order may not jump backwards (a refunded order becoming "paid" again) through the API.
//! Store webhooks that arrive out of order are reconciled by the ingestion layer, which
//! uses [`OrderStatus::rank`] to keep the furthest state.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Paid,
    Fulfilled,
    Shipped,
    Delivered,
    Cancelled,
    Returned,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Placed,
        OrderStatus::Paid,
        OrderStatus::Fulfilled,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Returned,
        OrderStatus::Refunded,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Returned => "returned",
            OrderStatus::Refunded => "refunded",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// Arabic label for people.
    pub fn label_ar(self) -> &'static str {
        match self {
            OrderStatus::Placed => "جديد",
            OrderStatus::Paid => "مدفوع",
            OrderStatus::Fulfilled => "تم التجهيز",
            OrderStatus::Shipped => "تم الشحن",
            OrderStatus::Delivered => "تم التوصيل",
            OrderStatus::Cancelled => "ملغي",
            OrderStatus::Returned => "مرتجع",
            OrderStatus::Refunded => "مسترد",
        }
    }
    /// How far along the lifecycle a status is; terminal outcomes rank highest.
    pub fn rank(self) -> u8 {
        match self {
            OrderStatus::Placed => 0,
            OrderStatus::Paid => 1,
            OrderStatus::Fulfilled => 2,
            OrderStatus::Shipped => 3,
            OrderStatus::Delivered => 4,
            OrderStatus::Cancelled => 5,
            OrderStatus::Returned => 6,
            OrderStatus::Refunded => 7,
        }
    }
    /// Whether a person or API client may move an order from `self` to `to`.
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Placed, Paid | Fulfilled | Shipped | Delivered | Cancelled)
                | (Paid, Fulfilled | Shipped | Delivered | Cancelled | Refunded)
                | (Fulfilled, Paid | Shipped | Delivered | Cancelled | Returned | Refunded)
                | (Shipped, Paid | Delivered | Returned | Refunded | Cancelled)
                // Cash on delivery: the payment is recorded at or after delivery.
                | (Delivered, Paid | Returned | Refunded)
                | (Cancelled, Refunded)
                | (Returned, Refunded)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Card,
    CashOnDelivery,
    BankTransfer,
    Wallet,
    Bnpl,
    StoreCredit,
    Other,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 7] = [
        PaymentMethod::Card,
        PaymentMethod::CashOnDelivery,
        PaymentMethod::BankTransfer,
        PaymentMethod::Wallet,
        PaymentMethod::Bnpl,
        PaymentMethod::StoreCredit,
        PaymentMethod::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Card => "card",
            PaymentMethod::CashOnDelivery => "cash_on_delivery",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::Wallet => "wallet",
            PaymentMethod::Bnpl => "bnpl",
            PaymentMethod::StoreCredit => "store_credit",
            PaymentMethod::Other => "other",
        }
    }
    /// Read the names platforms and CSV exports use (`cod`, `mada`, `tabby`, `stc_pay`, …).
    pub fn parse_loose(s: &str) -> PaymentMethod {
        let l = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        if let Some(p) = PaymentMethod::ALL.into_iter().find(|p| p.as_str() == l) {
            return p;
        }
        match l.as_str() {
            "cod" | "cash" | "cash_on_delivery_(cod)" | "الدفع_عند_الاستلام" => {
                PaymentMethod::CashOnDelivery
            }
            "credit_card" | "debit_card" | "mada" | "visa" | "mastercard" | "amex" | "stripe"
            | "moyasar" | "tap" | "hyperpay" | "paytabs" | "checkout" | "shopify_payments" => {
                PaymentMethod::Card
            }
            "apple_pay" | "applepay" | "stc_pay" | "stcpay" | "google_pay" | "paypal" | "urpay" => {
                PaymentMethod::Wallet
            }
            "tabby" | "tamara" | "postpay" | "spotii" | "valu" => PaymentMethod::Bnpl,
            "bank" | "bacs" | "wire" | "transfer" => PaymentMethod::BankTransfer,
            "gift_card" | "store_credit" | "wallet_balance" => PaymentMethod::StoreCredit,
            _ => PaymentMethod::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    Damaged,
    WrongItem,
    NotAsDescribed,
    SizeOrFit,
    ChangedMind,
    LateDelivery,
    Other,
}

impl ReturnReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnReason::Damaged => "damaged",
            ReturnReason::WrongItem => "wrong_item",
            ReturnReason::NotAsDescribed => "not_as_described",
            ReturnReason::SizeOrFit => "size_or_fit",
            ReturnReason::ChangedMind => "changed_mind",
            ReturnReason::LateDelivery => "late_delivery",
            ReturnReason::Other => "other",
        }
    }
}

/// Whether an order's money counts as revenue: paid and not fully refunded; a cash-on-delivery
/// order only once delivered.
pub fn counts_as_revenue(
    status: OrderStatus,
    method: PaymentMethod,
    history: &[OrderStatus],
) -> bool {
    let reached = |s: OrderStatus| status == s || history.contains(&s);
    match status {
        OrderStatus::Cancelled | OrderStatus::Refunded | OrderStatus::Returned => false,
        _ if method == PaymentMethod::CashOnDelivery => {
            reached(OrderStatus::Delivered) || reached(OrderStatus::Paid)
        }
        _ => reached(OrderStatus::Paid) || status.rank() >= OrderStatus::Fulfilled.rank(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        use OrderStatus::*;
        assert!(Placed.can_move_to(Paid));
        assert!(Delivered.can_move_to(Paid));
        assert!(!Refunded.can_move_to(Paid));
        assert!(!Paid.can_move_to(Placed));
        assert!(!Delivered.can_move_to(Delivered));
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn revenue_rules() {
        use OrderStatus::*;
        assert!(!counts_as_revenue(
            Shipped,
            PaymentMethod::CashOnDelivery,
            &[Placed]
        ));
        assert!(counts_as_revenue(
            Delivered,
            PaymentMethod::CashOnDelivery,
            &[Placed, Shipped]
        ));
        assert!(counts_as_revenue(Paid, PaymentMethod::Card, &[Placed]));
        assert!(!counts_as_revenue(
            Refunded,
            PaymentMethod::Card,
            &[Placed, Paid]
        ));
        assert_eq!(
            PaymentMethod::parse_loose("COD"),
            PaymentMethod::CashOnDelivery
        );
        assert_eq!(PaymentMethod::parse_loose("Tabby"), PaymentMethod::Bnpl);
        assert_eq!(PaymentMethod::parse_loose("mada"), PaymentMethod::Card);
    }
}
